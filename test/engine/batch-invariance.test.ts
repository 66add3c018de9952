// What the README says about batching, checked at the logit level on GPT-2's 50,257-token vocabulary (gpt2-vocab) and
// on tiny-llama: the same run twice gives the same logits bit for bit (so max_batch: 1 reproduces a request exactly);
// a row's logits inside a left-padded batch (chunked prefill next to other prompts, decode steps in a batch re-packed
// from rows that joined at different times) stay within BATCH_TOLERANCE of its logits alone, with the same most likely
// token at every step, but are not bit-identical: padding changes the rounding of the attention sums.
import { afterAll, describe, expect, it } from "bun:test";
import { join, resolve } from "node:path";
import { Decoder, type KvBlock } from "../../src/engine/decoder.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";

const MODELS_DIR = resolve(import.meta.dir, "../../models");
const decoders: Decoder[] = [];
afterAll(() => Promise.all(decoders.map((d) => d.release())));

/** Positions whose bits differ, and the largest difference: both 0 when the rows are the same float for float. */
function difference(a: Float32Array, b: Float32Array): { differing: number; largest: number } {
  expect(a.length).toBe(b.length);
  let differing = 0;
  let largest = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) differing++;
    largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
  }
  return { differing, largest };
}

const SAME = { differing: 0, largest: 0 };
/** Measured: at most 3.8e-6 on these models (on up to 61 % of a row's logits); the bound leaves room for other CPUs. */
const BATCH_TOLERANCE = 1e-4;

function close(batched: Float32Array, alone: Float32Array) {
  const { largest } = difference(batched, alone);
  return { withinTolerance: largest <= BATCH_TOLERANCE, sameArgmax: argmax(batched) === argmax(alone) };
}
const CLOSE = { withinTolerance: true, sameArgmax: true };
const argmax = (logits: Float32Array) => logits.reduce((best, v, i, all) => (v > all[best]! ? i : best), 0);

for (const [id, vocabSize] of [["gpt2-vocab", 50257], ["tiny-llama", undefined]] as const) {
  describe(`batch invariance of the logits on ${id}`, () => {
    const open = async (threads: number) => {
      const dir = join(MODELS_DIR, id);
      const decoder = await Decoder.open(dir, "model.onnx", readDecoderConfig(dir), { intraOpThreads: threads });
      decoders.push(decoder);
      return decoder;
    };
    const ids = (length: number, from: number, vocab: number) => Array.from({ length }, (_, i) => (from + i * 7919) % (vocab - 1));

    it("repeats a run bit for bit, and keeps a row's batched logits within tolerance of its logits alone, same argmax", async () => {
      const d = await open(0);
      if (vocabSize) expect(d.vocabSize).toBe(vocabSize);
      const V = d.vocabSize;
      const row = (logits: Float32Array, r: number) => logits.subarray(r * V, (r + 1) * V);
      const prompt = ids(6, 11, V);
      const others = [ids(19, 3, V), ids(9, 500, V), ids(13, 42, V)];

      // Alone: the reference, in two chunks (4 + 2) as a --prefill-chunk of 4 cuts it.
      const first = await d.prefill(prompt.slice(0, 4), d.emptyKv());
      const alone = await d.prefill(prompt.slice(4), first.kv);
      expect(difference(alone.logits, (await d.prefill(prompt.slice(4), first.kv)).logits)).toEqual(SAME);

      // Batched: its second chunk runs next to the first chunk of another prompt, with left padding.
      const chunked = await d.prefillBatch([
        { ids: prompt.slice(4), past: { kv: first.kv, row: 0, length: 4 } },
        { ids: others[0]!.slice(0, 2) },
      ]);
      expect(close(row(chunked.logits, 0), alone.logits)).toEqual(CLOSE);
      // And the whole prompt next to longer ones: padded by up to 13 positions.
      const unchunked = await d.prefill(prompt, d.emptyKv());
      const padded = await d.prefillBatch([prompt, ...others].map((p) => ({ ids: p })));
      expect(close(row(padded.logits, 0), unchunked.logits)).toEqual(CLOSE);
      expect(difference(row(padded.logits, 0), row((await d.prefillBatch([prompt, ...others].map((p) => ({ ids: p })))).logits, 0))).toEqual(SAME);

      // Decode steps: alone, and in a batch packed from rows of other widths and blocks, re-packed once midway.
      let soloKv: KvBlock = alone.kv;
      let batchKv = d.pack([
        { kv: padded.kv, row: 1, length: others[0]!.length },
        { kv: alone.kv, row: 0, length: prompt.length },
        { kv: padded.kv, row: 3, length: others[2]!.length },
      ]);
      let lengths = [others[0]!.length, prompt.length, others[2]!.length];
      let at = 1;
      let token = argmax(alone.logits);
      for (let step = 0; step < 8; step++) {
        const solo = await d.decode(soloKv, [token], [prompt.length + step]);
        const batch = await d.decode(batchKv, lengths.map((_, r) => (r === at ? token : 5 + r)), lengths);
        expect({ step, ...close(row(batch.logits, at), solo.logits) }).toEqual({ step, ...CLOSE });
        // The same batch run again: bit for bit.
        const again = await d.decode(batchKv, lengths.map((_, r) => (r === at ? token : 5 + r)), lengths);
        expect({ step, ...difference(again.logits, batch.logits) }).toEqual({ step, ...SAME });
        soloKv = solo.kv;
        batchKv = batch.kv;
        lengths = lengths.map((n) => n + 1);
        token = argmax(solo.logits);
        if (step === 3) {
          // The first row leaves: the batch is re-packed with the row moved up.
          batchKv = d.pack([
            { kv: batchKv, row: 1, length: lengths[1]! },
            { kv: batchKv, row: 2, length: lengths[2]! },
          ]);
          lengths = lengths.slice(1);
          at = 0;
        }
      }
    }, 60_000);

    it("gives the same logits with one ONNX Runtime thread and with one per core", async () => {
      const [one, all] = [await open(1), await open(0)];
      const prompt = ids(12, 77, one.vocabSize);
      const a = await one.prefillBatch([{ ids: prompt }, { ids: prompt.slice(3) }]);
      const b = await all.prefillBatch([{ ids: prompt }, { ids: prompt.slice(3) }]);
      expect(difference(a.logits, b.logits)).toEqual(SAME);
    }, 60_000);
  });
}

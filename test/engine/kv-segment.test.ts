// Keys and values copied out of a batch and back in are the cache the model made: a prompt prefilled after a reused
// prefix gives the logits of the whole prompt prefilled at once, on the generated GPT-2 and Llama models.
import { afterAll, describe, expect, it } from "bun:test";
import { join, resolve } from "node:path";
import { Decoder, type KvBlock } from "../../src/engine/decoder.ts";
import { copyKvIn, copyKvOut } from "../../src/engine/kv-segment.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";

const MODELS_DIR = resolve(import.meta.dir, "../../models");
const decoders: Decoder[] = [];
afterAll(async () => {
  await Promise.all(decoders.map((d) => d.release()));
});

const prompt = Array.from({ length: 23 }, (_, i) => (7 + i * 41) % 500);

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

describe("KV segments", () => {
  for (const id of ["tiny-gpt2", "tiny-llama"]) {
    it(`${id}: a prefix copied out of a padded batch and back in continues as the whole prompt would`, async () => {
      const dir = join(MODELS_DIR, id);
      const decoder = await Decoder.open(dir, "model.onnx", readDecoderConfig(dir), { intraOpThreads: 1 });
      decoders.push(decoder);
      const whole = await decoder.prefill(prompt, decoder.emptyKv());

      // The prefix sits in row 1 of a left-padded batch next to a longer prompt, as it does inside the scheduler.
      const other = Array.from({ length: 30 }, (_, i) => (300 + i * 13) % 500);
      const batch = await decoder.prefillBatch([{ ids: other }, { ids: prompt.slice(0, 16) }]);
      expect(batch.kv.width).toBe(30);
      const source = { kv: batch.kv, row: 1, length: 16 };
      const segments = [copyKvOut(source, 0, 8), copyKvOut(source, 8, 16)];
      expect(segments[0]!.positions).toBe(8);
      const cfg = decoder.config;
      expect(segments[0]!.bytes).toBe(2 * cfg.numLayers * cfg.kvHeads * 8 * cfg.headDim * 4);

      for (const reused of [16, 11]) {
        const past: KvBlock = copyKvIn(segments, reused);
        expect(past.width).toBe(reused);
        const rest = await decoder.prefill(prompt.slice(reused), past);
        expect(rest.kv.width).toBe(prompt.length);
        expect(argmax(rest.logits)).toBe(argmax(whole.logits));
        for (let i = 0; i < whole.logits.length; i++) expect(rest.logits[i]!).toBeCloseTo(whole.logits[i]!, 4);
      }
    });
  }

  it("refuses positions the row does not hold", async () => {
    const decoder = decoders[0]!;
    const out = await decoder.prefill(prompt.slice(0, 4), decoder.emptyKv());
    expect(() => copyKvOut({ kv: out.kv, row: 0, length: 4 }, 2, 6)).toThrow("cannot copy positions 2..6 of 4");
    expect(() => copyKvIn([copyKvOut({ kv: out.kv, row: 0, length: 4 }, 0, 4)], 5)).toThrow("segments hold 4 positions, 5 asked");
  });
});

// Keys and values kept as views of a batch and restored are the cache the model made: a prompt prefilled after a
// reused prefix gives the logits of the whole prompt prefilled at once, on the generated GPT-2 and Llama models; a
// prefix that is a whole one-row block comes back as that very block (no copy).
import { afterAll, describe, expect, it } from "bun:test";
import { join, resolve } from "node:path";
import { Decoder, type KvBlock } from "../../src/engine/decoder.ts";
import { kvFromViews, viewKv } from "../../src/engine/kv-segment.ts";
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
    it(`${id}: a prefix viewed in a padded batch and restored continues as the whole prompt would`, async () => {
      const dir = join(MODELS_DIR, id);
      const decoder = await Decoder.open(dir, "model.onnx", readDecoderConfig(dir), { intraOpThreads: 1 });
      decoders.push(decoder);
      const whole = await decoder.prefill(prompt, decoder.emptyKv());

      // The prefix sits in row 1 of a left-padded batch next to a longer prompt, as it does inside the scheduler.
      const other = Array.from({ length: 30 }, (_, i) => (300 + i * 13) % 500);
      const batch = await decoder.prefillBatch([{ ids: other }, { ids: prompt.slice(0, 16) }]);
      expect(batch.kv.width).toBe(30);
      const source = { kv: batch.kv, row: 1, length: 16 };
      const segments = [viewKv(source, 0, 8), viewKv(source, 8, 16)];
      expect(segments[0]!.positions).toBe(8);
      const cfg = decoder.config;
      // The store is the whole two-row block, 30 positions wide, shared by both views.
      expect(segments[0]!.store.bytes).toBe(2 * cfg.numLayers * 2 * cfg.kvHeads * 30 * cfg.headDim * 4);
      expect(segments[1]!.store).toBe(segments[0]!.store);

      for (const reused of [16, 11]) {
        const past: KvBlock = kvFromViews(segments, reused);
        expect(past).not.toBe(batch.kv);
        expect(past.width).toBe(reused);
        const rest = await decoder.prefill(prompt.slice(reused), past);
        expect(rest.kv.width).toBe(prompt.length);
        expect(argmax(rest.logits)).toBe(argmax(whole.logits));
        for (let i = 0; i < whole.logits.length; i++) expect(rest.logits[i]!).toBeCloseTo(whole.logits[i]!, 4);
      }
    });
  }

  it("restores a whole one-row block as it is, and a part of it as a copy of the same bits", async () => {
    const decoder = decoders[0]!;
    const out = await decoder.prefill(prompt, decoder.emptyKv());
    const source = { kv: out.kv, row: 0, length: prompt.length };
    const views = [viewKv(source, 0, 16), viewKv(source, 16, 23)];
    expect(kvFromViews(views, 23)).toBe(out.kv);
    const part = kvFromViews(views, 20);
    for (const [name, tensor] of Object.entries(part.tensors)) {
      const [, heads, width, headDim] = tensor.dims as number[];
      expect(width).toBe(20);
      const whole = out.kv.tensors[name]!.data as Float32Array;
      for (let h = 0; h < heads!; h++) {
        const want = whole.subarray(h * 23 * headDim!, (h * 23 + 20) * headDim!);
        expect(Array.from((tensor.data as Float32Array).subarray(h * 20 * headDim!, (h + 1) * 20 * headDim!))).toEqual(Array.from(want));
      }
    }
  });

  it("refuses positions the row does not hold", async () => {
    const decoder = decoders[0]!;
    const out = await decoder.prefill(prompt.slice(0, 4), decoder.emptyKv());
    expect(() => viewKv({ kv: out.kv, row: 0, length: 4 }, 2, 6)).toThrow("cannot view positions 2..6 of 4");
    expect(() => kvFromViews([viewKv({ kv: out.kv, row: 0, length: 4 }, 0, 4)], 5)).toThrow("views hold 4 positions, 5 asked");
  });
});

// The decoder reads its I/O contract from the session: num_logits_to_keep fed where the export has it (so a prefill
// materialises one position's logits), every position's logits on request, and graphs it cannot feed refused.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeModels } from "../../scripts/make-models.ts";
import { Decoder } from "../../src/engine/decoder.ts";
import { UnsupportedFormatError } from "../../src/engine/errors.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";

const OUT = mkdtempSync(join(tmpdir(), "gpt3dev-decoder-formats-"));
const IDS = [12, 40, 7, 300, 5, 61];

beforeAll(() => {
  makeModels({ outDir: OUT, ids: ["family-qwen3", "family-qwen2", "tiny-bert"] });
});
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

async function open(id: string, file = "model.onnx") {
  const dir = join(OUT, id);
  return Decoder.open(dir, file, readDecoderConfig(dir));
}

/** Records the dims of every logits tensor the session returns (or, writing in place, is given to fill). */
function spyLogits(decoder: Decoder): number[][] {
  type Outputs = Record<string, { dims: number[] }>;
  const seen: number[][] = [];
  const session = (decoder as unknown as { session: { run: (feeds: unknown, outputs?: Outputs) => Promise<Outputs | undefined> } }).session;
  const run = session.run.bind(session);
  session.run = async (feeds, outputs) => {
    const out = await run(feeds, outputs);
    seen.push([...(out ?? outputs)!.logits!.dims]);
    return out;
  };
  return seen;
}

describe("Decoder I/O contract", () => {
  for (const [id, file, keep] of [
    ["family-qwen3", "model.onnx", "num_logits_to_keep"],
    ["family-qwen3", "model_q4f16.onnx", "num_logits_to_keep"],
    ["family-qwen2", "model.onnx", undefined],
  ] as const) {
    it(`${id}/${file}: the last position's logits, or every position's on request, equal position by position`, async () => {
      const decoder = await open(id, file);
      try {
        expect(decoder.io.logitsToKeep).toBe(keep);
        const vocab = decoder.vocabSize;
        const seen = spyLogits(decoder);
        const last = await decoder.prefill(IDS, decoder.emptyKv());
        const all = await decoder.prefill(IDS, decoder.emptyKv(), "all");
        // With num_logits_to_keep the graph itself returns one position for a prefill; without it, all of them.
        expect(seen).toEqual([
          [1, keep ? 1 : IDS.length, vocab],
          [1, IDS.length, vocab],
        ]);
        expect(last.logits.length).toBe(vocab);
        expect(all.logits.length).toBe(IDS.length * vocab);
        expect(Array.from(all.logits.subarray((IDS.length - 1) * vocab))).toEqual(Array.from(last.logits));
        for (let n = 1; n < IDS.length; n++) {
          const prefix = await decoder.prefill(IDS.slice(0, n), decoder.emptyKv());
          const row = all.logits.subarray((n - 1) * vocab, n * vocab);
          for (let j = 0; j < vocab; j++) expect(Math.abs(row[j]! - prefix.logits[j]!)).toBeLessThan(file === "model.onnx" ? 1e-4 : 2e-2);
        }
      } finally {
        await decoder.release();
      }
    });
  }

  it("reads the cache's element type, heads and head size from the graph (Qwen3: head_dim 16, not hidden/heads)", async () => {
    const half = await open("family-qwen3", "model_q4f16.onnx");
    const full = await open("family-qwen3");
    try {
      expect([half.io.cache.type, half.io.logitsType, half.io.cache.kvHeads, half.io.cache.headDim]).toEqual(["float16", "float16", 2, 16]);
      expect([full.io.cache.type, full.io.logitsType]).toEqual(["float32", "float32"]);
      expect(half.io.cache.names).toEqual(["past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"]);
    } finally {
      await half.release();
      await full.release();
    }
  });

  it("refuses a graph with inputs it cannot feed, naming them", async () => {
    const error = await open("tiny-bert").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedFormatError);
    expect((error as UnsupportedFormatError).reason).toBe("the ONNX graph has inputs gpt3dev cannot feed: token_type_ids");
  });
});

// fp16 weights kept fp16 (`--fp16-weights float16`): the load-time rewrite declares exactly the matrix weights of an
// fp16 graph as graph inputs (so ONNX Runtime widens them at each run instead of keeping widened copies), leaves other
// tables and other dtypes alone, and the decoder computes what it computes with weights widened once at load.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { onnx } from "onnx-proto";
import { Decoder } from "../../src/engine/decoder.ts";
import { AUTO_WIDEN_SHARE, keepsHalfWeights } from "../../src/engine/fp16-weights.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";
import { consumers, readModel, type OnnxModel } from "../../src/runtime/graph-rewrite/onnx-graph.ts";
import { prepareDecoderFile } from "../../src/runtime/graph-rewrite/rewrite-cache.ts";

const MODELS = resolve(import.meta.dir, "../../models");
const FP16 = join(MODELS, "tiny-llama/onnx/model_fp16.onnx");
const cacheDir = mkdtempSync(join(tmpdir(), "gpt3dev-half-weights-"));
const decoders: Decoder[] = [];
afterAll(async () => {
  await Promise.all(decoders.map((d) => d.release()));
  rmSync(cacheDir, { recursive: true, force: true });
});

/** 2-D fp16 initializers that a Cast to float turns into the weight (input 1) of MatMul nodes only, read independently. */
function matrixWeights(model: OnnxModel): string[] {
  const readers = consumers(model.nodes);
  const names: string[] = [];
  for (const init of model.initializers.values()) {
    if (init.dataType !== onnx.TensorProto.DataType.FLOAT16 || init.dims.length !== 2) continue;
    const casts = readers.get(init.name) ?? [];
    const ok = casts.length > 0 && casts.every(({ entry }) =>
      entry.node.opType === "Cast" && (readers.get(entry.node.output![0]!) ?? []).every((u) => u.entry.node.opType === "MatMul" && u.index === 1));
    if (ok) names.push(init.name);
  }
  return names.sort();
}

describe("fp16 weights kept fp16", () => {
  test("the rewrite declares every matrix weight of an fp16 graph as an input, and nothing else", () => {
    const before = readModel(Bun.mmap(FP16));
    const expected = matrixWeights(before);
    // The tiny Llama: 7 matrices per layer and the LM head; its embedding table is read by a Gather and stays a constant.
    const config = readDecoderConfig(join(MODELS, "tiny-llama"));
    expect(expected).toHaveLength(7 * config.numLayers + 1);
    const half = prepareDecoderFile(FP16, cacheDir, undefined, true);
    const widened = prepareDecoderFile(FP16, cacheDir, undefined, false);
    expect(half.rewrites).toContain("half-weights");
    expect(widened.rewrites).not.toContain("half-weights");
    expect(half.path).not.toBe(widened.path);
    const after = readModel(Bun.mmap(half.path));
    const declared = after.inputs.map((i) => i.name ?? "").filter((name) => after.initializers.has(name)).sort();
    expect(declared).toEqual(expected);
    const embedding = [...before.initializers.values()].find((i) => (consumers(before.nodes).get(i.name) ?? []).some((u) => u.entry.node.opType === "Gather" || (consumers(before.nodes).get(u.entry.node.output![0]!) ?? []).some((g) => g.entry.node.opType === "Gather")));
    expect(embedding).toBeDefined();
    expect(declared).not.toContain(embedding!.name);
    // Declared inputs carry the initializer's own type and shape.
    for (const name of declared) {
      const input = after.inputs.find((i) => i.name === name)!;
      expect(input.type?.tensorType?.elemType).toBe(onnx.TensorProto.DataType.FLOAT16);
      expect(input.type?.tensorType?.shape?.dim?.map((d) => Number(d.dimValue))).toEqual(after.initializers.get(name)!.dims);
    }
  });

  test("float32 and 8-bit files have nothing to keep", () => {
    for (const file of ["tiny-llama/onnx/model.onnx", "tiny-llama/onnx/model_quantized.onnx", "tiny-gpt2/onnx/model.onnx"]) {
      expect({ file, rewrites: prepareDecoderFile(join(MODELS, file), cacheDir, undefined, true).rewrites }).not.toEqual({ file, rewrites: expect.arrayContaining(["half-weights"]) });
    }
  });

  test("the decoder computes the same logits and greedy tokens as with weights widened at load", async () => {
    const dir = join(MODELS, "tiny-llama");
    const open = async (halfWeights: boolean) => {
      const d = await Decoder.open(dir, "model_fp16.onnx", readDecoderConfig(dir), { intraOpThreads: 1, cacheDir, halfWeights });
      decoders.push(d);
      return d;
    };
    const half = await open(true);
    const widened = await open(false);
    expect(half.rewrites).toContain("half-weights");
    expect(widened.rewrites).not.toContain("half-weights");
    const V = half.vocabSize;
    const argmax = (l: Float32Array) => l.subarray(0, V).reduce((b, v, i, a) => (v > a[b]! ? i : b), 0);
    const run = async (d: Decoder) => {
      const prompt = Array.from({ length: 9 }, (_, i) => (i * 37 + 5) % V);
      let { logits, kv } = await d.prefill(prompt, d.emptyKv());
      const trace = [Float32Array.from(logits.subarray(0, V))];
      const tokens: number[] = [];
      for (let step = 0; step < 12; step++) {
        const token = argmax(logits);
        tokens.push(token);
        ({ logits, kv } = await d.decode(kv, [token], [prompt.length + step]));
        trace.push(Float32Array.from(logits.subarray(0, V)));
      }
      return { trace, tokens };
    };
    const a = await run(half);
    const b = await run(widened);
    expect(a.tokens).toEqual(b.tokens);
    let worst = 0;
    for (const [i, logits] of a.trace.entries()) {
      for (const [v, x] of logits.entries()) worst = Math.max(worst, Math.abs(x - b.trace[i]![v]!) / Math.max(1, Math.abs(b.trace[i]![v]!)));
    }
    // Same fp32 arithmetic on the same widened values; only the order of the sums may differ between GEMM kernels, which
    // can move a logit by one step of the float16 it is returned in (2^-10 relative; 2^-8 allows a few).
    expect(worst).toBeLessThan(2 ** -8);
    expect(a.trace[0]!.some((x, v) => x !== a.trace[1]![v])).toBe(true);
  });
});

describe("--fp16-weights auto", () => {
  test("keeps fp16 weights only when widening them would take more than half the memory", () => {
    const GiB = 2 ** 30;
    expect(AUTO_WIDEN_SHARE).toBe(0.5);
    expect(keepsHalfWeights("auto", "fp16", 1 * GiB, 2 * GiB)).toBe(true);
    expect(keepsHalfWeights("auto", "fp16", 1 * GiB, 4 * GiB)).toBe(false);
    expect(keepsHalfWeights("auto", "fp16", 1 * GiB + 1, 4 * GiB)).toBe(true);
    expect(keepsHalfWeights("auto", "fp16", 0.1 * GiB, 24 * GiB)).toBe(false);
    expect(keepsHalfWeights("float16", "fp16", 0.1 * GiB, 24 * GiB)).toBe(true);
    expect(keepsHalfWeights("float32", "fp16", 1 * GiB, 1 * GiB)).toBe(false);
    for (const dtype of ["fp32", "q8", "q4", "q4f16"]) expect(keepsHalfWeights("float16", dtype, 1 * GiB, 1 * GiB)).toBe(false);
  });
});

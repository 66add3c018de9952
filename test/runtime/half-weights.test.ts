// fp16 weights kept fp16 (`--fp16-weights float16`): the load-time rewrite declares exactly the matrix weights of an
// fp16 graph as graph inputs (so ONNX Runtime widens them at each run instead of keeping widened copies), leaves other
// tables and other dtypes alone, and the decoder computes what it computes with weights widened once at load.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { onnx } from "onnx-proto";
import { Decoder } from "../../src/engine/decoder.ts";
import { AUTO_WIDEN_SHARE, freeMemoryBytes, keepsHalfWeights, onnxBytes } from "../../src/engine/fp16-weights.ts";
import { graphWithData } from "../../src/engine/model-files.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";
import { consumers, encodeModel, readModel, type OnnxModel } from "../../src/runtime/graph-rewrite/onnx-graph.ts";
import type { Field } from "../../src/runtime/graph-rewrite/protobuf.ts";
import { TransposeScratch, transposeMatrix } from "../../src/runtime/graph-rewrite/transposed-weights.ts";
import { keepHalfWeights } from "../../src/runtime/graph-rewrite/half-weights.ts";
import { ort } from "../../src/runtime/onnx.ts";
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

/** An inline fp16 initializer's values as bit patterns, decoded with onnx-proto. */
function halfValues(bytes: Uint8Array, field: Field): Uint16Array {
  const raw = onnx.TensorProto.decode(bytes.subarray(field.body, field.end)).rawData!;
  return new Uint16Array(raw.slice().buffer);
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
    // Declared inputs carry the initializer's own type and shape: the source's, transposed.
    for (const name of declared) {
      const input = after.inputs.find((i) => i.name === name)!;
      expect(input.type?.tensorType?.elemType).toBe(onnx.TensorProto.DataType.FLOAT16);
      expect(input.type?.tensorType?.shape?.dim?.map((d) => Number(d.dimValue))).toEqual(after.initializers.get(name)!.dims);
      expect(after.initializers.get(name)!.dims).toEqual([...before.initializers.get(name)!.dims].reverse());
    }
    // Each kept matrix is written to the data file as the source's values, transposed (checked element by element).
    const dataFile = new Uint8Array(readFileSync(join(dirname(half.path), "model.onnx.data")));
    for (const name of declared) {
      const [k, n] = before.initializers.get(name)!.dims as [number, number];
      const source = halfValues(before.bytes, before.initializers.get(name)!.field);
      const tensor = onnx.TensorProto.decode(after.bytes.subarray(after.initializers.get(name)!.field.body, after.initializers.get(name)!.field.end));
      const at = (key: string) => Number(tensor.externalData!.find((e) => e.key === key)!.value);
      expect(at("length")).toBe(k * n * 2);
      const written = new Uint16Array(dataFile.slice(at("offset"), at("offset") + at("length")).buffer);
      let mismatches = 0;
      for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) if (written[c * k + r] !== source[r * n + c]) mismatches++;
      expect({ name, mismatches }).toEqual({ name, mismatches: 0 });
    }
  });

  test("a matrix is transposed whole, for 2- and 4-byte values at any offset and any shape", () => {
    for (const [rows, columns, size] of [[1, 1, 2], [3, 130, 2], [129, 65, 4], [64, 64, 2], [200, 7, 4]] as const) {
      const source = new Uint8Array(rows * columns * size + 1).map((_, i) => (i * 37 + 11) % 251).subarray(1);
      const out = transposeMatrix(source, rows, columns, size);
      let mismatches = 0;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < columns; c++) {
          for (let b = 0; b < size; b++) if (out[(c * rows + r) * size + b] !== source[(r * columns + c) * size + b]) mismatches++;
        }
      }
      expect({ rows, columns, size, mismatches }).toEqual({ rows, columns, size, mismatches: 0 });
    }
    // One scratch serves a model's matrices one after the other: each result is right until the next is made.
    const scratch = new TransposeScratch();
    const a = Uint8Array.from({ length: 2 * 3 * 2 + 1 }, (_, i) => i).subarray(1);
    expect([...transposeMatrix(a, 2, 3, 2, scratch)]).toEqual([1, 2, 7, 8, 3, 4, 9, 10, 5, 6, 11, 12]);
    expect([...transposeMatrix(Uint8Array.of(1, 0, 0, 0, 2, 0, 0, 0), 1, 2, 4, scratch)]).toEqual([1, 0, 0, 0, 2, 0, 0, 0]);
    expect([...transposeMatrix(a, 3, 2, 2, scratch)]).toEqual([1, 2, 5, 6, 9, 10, 3, 4, 7, 8, 11, 12]);
    expect(() => transposeMatrix(new Uint8Array(10), 2, 3, 2)).toThrow("not a 2 × 3 matrix");
  });

  test("graphs that multiply by fp16 weights directly (converters' float16 form) keep them too, with the same result", async () => {
    // y = Cast(MatMul(Cast(x → fp16) × S, W) + B → fp32), W an fp16 matrix read only by the MatMul; E an fp16 table read
    // by a Gather, which is not a matrix weight.
    const [K, N] = [64, 48];
    const half = (values: number[]) => new Uint8Array(Float16Array.from(values).buffer);
    const w = Array.from({ length: K * N }, (_, i) => Math.sin(i * 0.37) / 4);
    const tensor = (name: string, dims: number[], values: number[]) => ({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT16, rawData: half(values) });
    const value = (name: string, elemType: number, dims: (number | string)[]) => ({
      name,
      type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
    });
    const FLOAT = onnx.TensorProto.DataType.FLOAT;
    // Opset 15 on, Shape reads the leading dimensions itself; before, a Slice of the whole shape does.
    for (const opset of [13, 17]) {
      const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({
        irVersion: 8,
        opsetImport: [{ domain: "", version: opset }],
        graph: {
          name: "direct-half",
          node: [
            { opType: "Cast", input: ["x"], output: ["x16"], attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.FLOAT16 }] },
            { opType: "Mul", input: ["x16", "S"], output: ["s16"] },
            { opType: "MatMul", input: ["s16", "W"], output: ["p16"] },
            { opType: "Add", input: ["p16", "B"], output: ["y16"] },
            { opType: "Gather", input: ["E", "ids"], output: ["e16"] },
            { opType: "Cast", input: ["y16"], output: ["y"], attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] },
            { opType: "Cast", input: ["e16"], output: ["e"], attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] },
          ],
          initializer: [tensor("W", [K, N], w), tensor("B", [N], Array.from({ length: N }, (_, i) => i / 32)), tensor("S", [], [0.75]), tensor("E", [8, K], Array.from({ length: 8 * K }, (_, i) => i / 64))],
          input: [value("x", FLOAT, ["rows", K]), value("ids", onnx.TensorProto.DataType.INT64, [2])],
          output: [value("y", FLOAT, ["rows", N]), value("e", FLOAT, [2, K])],
        },
      })).finish();
      const model = readModel(bytes);
      expect(keepHalfWeights(model)).toBe(true);
      expect(model.addedInputs.map((i) => i.name)).toEqual(["W"]);
      const chunks = encodeModel(model);
      const rewritten = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      chunks.reduce((at, c) => (rewritten.set(c, at), at + c.length), 0);
      const x = Float32Array.from({ length: 3 * K }, (_, i) => Math.cos(i * 0.11));
      const feeds = { x: new ort.Tensor("float32", x, [3, K]), ids: new ort.Tensor("int64", BigInt64Array.from([1n, 5n]), [2]) };
      const run = async (file: Uint8Array, name: string) => {
        // ONNX Runtime writes the graph it optimized: whether it holds W widened to a float32 constant.
        const optimizedModelFilePath = join(cacheDir, `${name}-optimized.onnx`);
        const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3, graphOptimizationLevel: "all", optimizedModelFilePath });
        try {
          const out = await session.run(feeds);
          const optimized = readModel(new Uint8Array(await Bun.file(optimizedModelFilePath).arrayBuffer()));
          // The weight stays the left operand of a plain MatMul: folded into FusedMatMul (transB), one row would be
          // multiplied by packing it 16 wide instead of as a vector.
          const fused = optimized.nodes.filter((e) => e.node.opType === "FusedMatMul").length;
          const widened = [...optimized.initializers.values()].filter((i) => i.dataType === FLOAT && i.dims.join() === `${K},${N}`).length;
          return { inputs: session.inputNames, widened, fused, y: Array.from(out.y!.data as Float32Array), e: Array.from(out.e!.data as Float32Array) };
        } finally {
          await session.release();
        }
      };
      const before = await run(bytes, `before-${opset}`);
      const after = await run(rewritten, `after-${opset}`);
      expect(before.widened).toBe(1);
      expect(after.widened).toBe(0);
      expect(after.fused).toBe(0);
      // W is an input with a default: callers are not asked for it.
      expect(after.inputs).toEqual(["x", "ids"]);
      expect(after.e).toEqual(before.e);
      expect(after.y).toEqual(before.y);
      expect(before.y.some((v) => v !== 0)).toBe(true);
    }
  });

  test("a weight whose widened copy is also a graph output is left as it is (transposed, the output would change)", () => {
    const value = (name: string, elemType: number, dims: number[]) => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
    const FLOAT = onnx.TensorProto.DataType.FLOAT;
    const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
    const weight = (name: string) => ({ name, dims: [4, 3], dataType: FLOAT16, rawData: new Uint8Array(Float16Array.from({ length: 12 }, (_, i) => i / 8).buffer) });
    const graph = (outputs: string[]) => readModel(onnx.ModelProto.encode(onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: "", version: 17 }],
      graph: {
        name: "outputs",
        node: [
          { opType: "Cast", input: ["W"], output: ["Wf"], attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] },
          { opType: "MatMul", input: ["x", "Wf"], output: ["y"] },
        ],
        initializer: [weight("W")],
        input: [value("x", FLOAT, [2, 4])],
        output: outputs.map((o) => value(o, FLOAT, o === "y" ? [2, 3] : [4, 3])),
      },
    })).finish());
    // The same graph without the extra output keeps W: the check is what leaves it alone.
    expect(keepHalfWeights(graph(["y"]))).toBe(true);
    const model = graph(["y", "Wf"]);
    expect(keepHalfWeights(model)).toBe(false);
    expect(model.transposed.size).toBe(0);
    expect(model.addedInputs).toEqual([]);
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
  test("weighs a file with its external data, split or not, and nothing else in the folder", () => {
    const dir = join(cacheDir, "sizes");
    mkdirSync(dir, { recursive: true });
    const files: Record<string, number> = { "model_fp16.onnx": 10, "model_fp16.onnx_data": 20, "model_fp16.onnx_data_1": 30, "model_fp16.onnx_data_3": 40, "model.onnx_data": 50 };
    for (const [name, size] of Object.entries(files)) writeFileSync(join(dir, name), new Uint8Array(size));
    expect(graphWithData(dir, "model_fp16.onnx")).toEqual(["model_fp16.onnx", "model_fp16.onnx_data", "model_fp16.onnx_data_1"]);
    expect(onnxBytes(join(dir, "model_fp16.onnx"))).toBe(60);
    expect(graphWithData(dir, "model.onnx")).toEqual(["model.onnx_data"]);
    expect(onnxBytes(join(dir, "model_q4.onnx"))).toBe(0);
  });

  test("measures free memory as the machine's MemAvailable, or the cgroup's room under its limit when smaller", () => {
    const meminfo = "MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:    2000000 kB\n";
    expect(freeMemoryBytes(meminfo)).toBe(2_000_000 * 1024);
    expect(freeMemoryBytes(meminfo, "max\n", "123456\n")).toBe(2_000_000 * 1024);
    expect(freeMemoryBytes(meminfo, "1073741824\n", "536870912\n")).toBe(536_870_912);
    expect(freeMemoryBytes(meminfo, "1073741824\n", "2147483648\n")).toBe(0);
    expect(freeMemoryBytes(meminfo, "8589934592\n", "0\n")).toBe(2_000_000 * 1024);
    expect(freeMemoryBytes("", "1073741824", "0")).toBe(1_073_741_824);
    expect(freeMemoryBytes("")).toBeUndefined();
  });

  test("keeps fp16 weights only when widening them would take more than half the memory free", () => {
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

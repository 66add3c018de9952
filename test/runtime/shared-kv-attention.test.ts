// The load-time rewrite of self-attention into com.microsoft GroupQueryAttention
// (src/runtime/graph-rewrite/shared-kv-attention.ts): which exports it applies to, what the rewritten graph holds,
// and that it computes what the original computes through onnxruntime-node (a past exactly as wide as the positions
// in use, where the op concatenates like the export): a left-padded two-row prompt, then a decode step on its cache.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readDecoderConfig } from "../../src/engine/model-config.ts";
import { readModel } from "../../src/runtime/graph-rewrite/onnx-graph.ts";
import { prepareDecoderFile } from "../../src/runtime/graph-rewrite/rewrite-cache.ts";
import { shareKvAttention } from "../../src/runtime/graph-rewrite/shared-kv-attention.ts";
import { ort } from "../../src/runtime/onnx.ts";

const MODELS = resolve(import.meta.dir, "../../models");
const cacheDir = mkdtempSync(join(tmpdir(), "gpt3dev-gqa-"));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const heads = (id: string) => ({ heads: readDecoderConfig(join(MODELS, id)).heads });
const REWRITTEN = [
  "tiny-gpt2/onnx/model.onnx",
  "tiny-gpt2/onnx/model_quantized.onnx",
  "tiny-llama/onnx/model.onnx",
  "tiny-llama/onnx/model_int8.onnx",
  "tiny-llama/onnx/model_uint8.onnx",
  "tiny-llama/onnx/model_q4.onnx",
  "tiny-llama/onnx/model_bnb4.onnx",
];

type Feeds = Record<string, ort.Tensor>;
const int64 = (values: number[], dims: number[]) => new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), dims);

function prompt(session: ort.InferenceSession): Feeds {
  const f: Feeds = {};
  const metadata = session.inputMetadata as unknown as Array<{ name: string; shape: Array<number | string> }>;
  for (const m of metadata) {
    if (m.name.startsWith("past_key_values")) f[m.name] = new ort.Tensor("float32", new Float32Array(0), [2, m.shape[1] as number, 0, m.shape[3] as number]);
  }
  f.input_ids = int64([5, 6, 7, 0, 9, 10], [2, 3]);
  f.attention_mask = int64([1, 1, 1, 0, 1, 1], [2, 3]);
  f.position_ids = int64([0, 1, 2, 0, 0, 1], [2, 3]);
  if (session.inputNames.includes("num_logits_to_keep")) f.num_logits_to_keep = int64([1], []);
  return f;
}

function step(session: ort.InferenceSession, out: ort.InferenceSession.OnnxValueMapType): Feeds {
  const f: Feeds = { input_ids: int64([11, 12], [2, 1]), attention_mask: int64([1, 1, 1, 1, 0, 1, 1, 1], [2, 4]), position_ids: int64([3, 2], [2, 1]) };
  for (const name of session.inputNames.filter((n) => n.startsWith("past_key_values"))) f[name] = out[name.replace("past_key_values", "present")] as ort.Tensor;
  if (session.inputNames.includes("num_logits_to_keep")) f.num_logits_to_keep = int64([1], []);
  return f;
}

function maxDiff(a: ort.Tensor, b: ort.Tensor): number {
  const [x, y] = [a.data as Float32Array, b.data as Float32Array];
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** Largest difference over real positions of a [2, heads, positions, headDim] cache (row 1's position 0 is padding). */
function realDiff(a: ort.Tensor, b: ort.Tensor): number {
  const [rows, heads, positions, dim] = a.dims as [number, number, number, number];
  expect(b.dims).toEqual(a.dims);
  const [x, y] = [a.data as Float32Array, b.data as Float32Array];
  let m = 0;
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      for (let t = r === 1 ? 1 : 0; t < positions; t++) {
        const at = ((r * heads + h) * positions + t) * dim;
        for (let i = at; i < at + dim; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
      }
    }
  }
  return m;
}

describe("self-attention rewritten into GroupQueryAttention", () => {
  for (const file of REWRITTEN) {
    test(`${file}: every layer rewritten; logits and cache as the original's through a prompt and a step`, async () => {
      const id = file.split("/")[0]!;
      const source = join(MODELS, file);
      const prepared = prepareDecoderFile(source, cacheDir, heads(id));
      expect(prepared.rewrites).toContain("shared-kv-attention");
      const graph = readModel(Bun.mmap(prepared.path));
      const layers = readDecoderConfig(join(MODELS, id)).numLayers;
      expect(graph.nodes.filter((e) => e.node.opType === "GroupQueryAttention" && e.node.domain === "com.microsoft")).toHaveLength(layers);
      // Nothing concatenates the cache any more, and no attention softmax is left outside the op.
      expect(graph.nodes.filter((e) => e.node.opType === "Concat" && e.node.output?.some((o) => o?.startsWith("present.")))).toHaveLength(0);
      expect(graph.nodes.filter((e) => e.node.opType === "Softmax")).toHaveLength(0);
      const original = await ort.InferenceSession.create(source);
      const rewritten = await ort.InferenceSession.create(prepared.path);
      try {
        const a = await original.run(prompt(original));
        const b = await rewritten.run(prompt(rewritten));
        const tolerance = file.includes("int8") || file.includes("uint8") || file.includes("quantized") ? 0.5 : 1e-4;
        // Each row's last position (the original graph may return every position's logits).
        const last = (logits: ort.Tensor) => {
          const [rows, positions, vocab] = logits.dims as [number, number, number];
          const data = logits.data as Float32Array;
          const out = new Float32Array(rows * vocab);
          for (let r = 0; r < rows; r++) out.set(data.subarray((r * positions + positions - 1) * vocab, (r * positions + positions) * vocab), r * vocab);
          return new ort.Tensor("float32", out, [rows, 1, vocab]);
        };
        expect(maxDiff(last(a.logits!), last(b.logits!))).toBeLessThan(tolerance);
        expect(Array.from(b["present.0.key"]!.data as Float32Array)).toEqual(Array.from(a["present.0.key"]!.data as Float32Array));
        // Later layers: every real position within rounding. The padding position's query attends to nothing real,
        // and the two graphs spread its attention differently: what they store there is never read (but 8-bit graphs
        // quantize each activation tensor with one scale, padding included, hence their looser bound).
        for (const name of rewritten.outputNames.filter((n) => n.startsWith("present"))) expect(realDiff(a[name]!, b[name]!)).toBeLessThan(tolerance === 1e-4 ? 1e-3 : tolerance);
        const a2 = await original.run(step(original, a));
        const b2 = await rewritten.run(step(rewritten, b));
        expect(maxDiff(last(a2.logits!), last(b2.logits!))).toBeLessThan(tolerance);
        expect(b2["present.0.value"]!.dims).toEqual([2, a2["present.0.value"]!.dims[1]!, 4, a2["present.0.value"]!.dims[3]!]);
      } finally {
        await original.release();
        await rewritten.release();
      }
    });
  }

  test("float16 caches are left as exported; so is a graph whose attention differs in one layer", () => {
    for (const file of ["tiny-llama/onnx/model_fp16.onnx", "tiny-llama/onnx/model_q4f16.onnx"]) {
      expect(prepareDecoderFile(join(MODELS, file), cacheDir, heads("tiny-llama")).rewrites).not.toContain("shared-kv-attention");
    }
    // All layers or none: the last layer's softmax taken over another axis no longer matches.
    const model = readModel(Bun.mmap(join(MODELS, "tiny-gpt2/onnx/model.onnx")));
    const softmaxes = model.nodes.filter((e) => e.node.opType === "Softmax");
    expect(softmaxes.length).toBe(2);
    const changed = softmaxes[1]!;
    changed.node = { ...changed.node, attribute: [{ name: "axis", type: 2, i: 2 }] };
    const before = model.nodes.length;
    expect(shareKvAttention(model, { heads: 4 })).toBe(false);
    expect(model.nodes.length).toBe(before);
    expect(model.addedInitializers).toHaveLength(0);
    // A head count the cache's heads do not divide is refused.
    expect(shareKvAttention(readModel(Bun.mmap(join(MODELS, "tiny-gpt2/onnx/model.onnx"))), { heads: 3 })).toBe(false);
  });

  test("--attention exported: the rewrite cache keeps a separate file without it", () => {
    const source = join(MODELS, "tiny-gpt2/onnx/model.onnx");
    const fused = prepareDecoderFile(source, cacheDir, heads("tiny-gpt2"));
    const plain = prepareDecoderFile(source, cacheDir);
    expect(fused.path).not.toBe(plain.path);
    expect(plain.rewrites).not.toContain("shared-kv-attention");
  });
});

describe("which families get the fused attention", () => {
  const dir = mkdtempSync(join(tmpdir(), "gpt3dev-gqa-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const full = (config: Record<string, unknown>) => {
    const base = { num_attention_heads: 4, hidden_size: 32, num_hidden_layers: 2, vocab_size: 100, max_position_embeddings: 4096 };
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...base, ...config }));
    return readDecoderConfig(dir).fullCausalAttention;
  };

  test("plain causal families only: a sliding window, per-layer attention kinds or an unknown family keep the export's attention", () => {
    expect(full({ model_type: "llama" })).toBe(true);
    expect(full({ model_type: "gpt2" })).toBe(true);
    expect(full({ model_type: "qwen2", sliding_window: 4096, use_sliding_window: false })).toBe(true);
    expect(full({ model_type: "mistral", sliding_window: null })).toBe(true);
    // A window at least as long as the context never cuts anything.
    expect(full({ model_type: "mistral", sliding_window: 4096 })).toBe(true);
    expect(full({ model_type: "mistral", sliding_window: 2048 })).toBe(false);
    expect(full({ model_type: "phi3", sliding_window: 2047 })).toBe(false);
    expect(full({ model_type: "qwen3", layer_types: ["full_attention", "sliding_attention"] })).toBe(false);
    // Soft-capped or ALiBi attention, and families not checked.
    expect(full({ model_type: "gemma2" })).toBe(false);
    expect(full({ model_type: "bloom" })).toBe(false);
    expect(full({ model_type: "mpt" })).toBe(false);
  });
});

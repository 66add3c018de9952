// Token embeddings read by the runtime (the embedding-rows rewrite): the graph's Gather by input_ids becomes a
// `token_embeddings` input in the table's own type, the runtime reads the rows from the rewritten model's data file,
// and a decoder computes exactly what it computes with the graph's own lookup, for every fixture format.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { onnx } from "onnx-proto";
import { Decoder } from "../../src/engine/decoder.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";
import { EmbeddingRows } from "../../src/runtime/embedding-rows.ts";
import { TOKEN_EMBEDDINGS_INPUT } from "../../src/runtime/graph-rewrite/embedding-rows.ts";
import { consumers, readModel } from "../../src/runtime/graph-rewrite/onnx-graph.ts";
import { prepareDecoderFile } from "../../src/runtime/graph-rewrite/rewrite-cache.ts";
import { rawData } from "../../src/runtime/graph-rewrite/transposed-weights.ts";

const MODELS = resolve(import.meta.dir, "../../models");
const cacheDir = mkdtempSync(join(tmpdir(), "gpt3dev-embedding-rows-"));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const T = onnx.TensorProto.DataType;
/** Fixture files and their table's type (fp16 tables sit behind the file's own Cast to float). */
const CASES: [model: string, file: string, type: number][] = [
  ["tiny-gpt2", "model.onnx", T.FLOAT],
  ["tiny-gpt2", "model_quantized.onnx", T.INT8],
  ["tiny-llama", "model.onnx", T.FLOAT],
  ["tiny-llama", "model_fp16.onnx", T.FLOAT16],
  ["tiny-llama", "model_q4.onnx", T.FLOAT],
  ["tiny-llama", "model_q4f16.onnx", T.FLOAT16],
  ["tiny-llama", "model_bnb4.onnx", T.FLOAT],
  ["tiny-llama", "model_int8.onnx", T.INT8],
  ["tiny-llama", "model_uint8.onnx", T.UINT8],
  ["gpt2-vocab", "model_quantized.onnx", T.INT8],
];

/** Every position's logits and the whole cache after a prompt that reads the table's first and last rows. */
async function prefillAll(model: string, file: string, settings: Parameters<typeof Decoder.open>[3]): Promise<{ logits: number[]; cache: number[][] }> {
  const dir = join(MODELS, model);
  const config = readDecoderConfig(dir);
  const decoder = await Decoder.open(dir, file, config, { intraOpThreads: 1, cacheDir, ...settings });
  try {
    const ids = [0, 17, config.vocabSize - 1, 300 % config.vocabSize, 17, 5];
    const { logits, kv } = await decoder.prefill(ids, decoder.emptyKv(), "all");
    return { logits: Array.from(logits), cache: Object.values(kv.tensors).map((t) => Array.from(t.data as Float32Array)) };
  } finally {
    await decoder.release();
  }
}

describe("token embeddings read by the runtime", () => {
  for (const [model, file, type] of CASES) {
    test(`${model}/${file}: rows of the ${onnx.TensorProto.DataType[type]} table, logits and cache identical to the graph's own lookup`, async () => {
      const source = join(MODELS, model, "onnx", file);
      const prepared = prepareDecoderFile(source, cacheDir, undefined, false, false, true);
      expect(prepared.warning).toBeUndefined();
      expect(prepared.rewrites).toContain("embedding-rows");
      const graph = readModel(readFileSync(prepared.path));
      expect(graph.nodes.some(({ node }) => node.opType === "Gather" && node.input?.[1] === "input_ids")).toBe(false);
      const input = graph.inputs.find((i) => i.name === TOKEN_EMBEDDINGS_INPUT);
      expect(input?.type?.tensorType?.elemType).toBe(type);
      // An untied table (the Llama fixtures) is read by no node any more, so nothing maps it or folds an fp32 copy of
      // it (fp16 files widened it with a Cast); a tied one is still read by the head.
      const tied = model !== "tiny-llama";
      expect(consumers(graph.nodes).has(prepared.embeddings!.name)).toBe(tied);
      // The rows the runtime reads are the source table's bytes, at the offset the cache records.
      const table = readModel(readFileSync(source)).initializers.get(prepared.embeddings!.name)!;
      const raw = rawData(readFileSync(source), table.field.body, table.field.end)!;
      expect(table.dataType).toBe(type);
      expect([prepared.embeddings!.rows, prepared.embeddings!.width]).toEqual(table.dims);
      const { offset } = prepared.embeddings!;
      expect(Buffer.compare(readFileSync(prepared.embeddings!.file).subarray(offset, offset + raw.length), raw)).toBe(0);

      const own = await prefillAll(model, file, { embeddingRows: false });
      const read = await prefillAll(model, file, { embeddingRows: true });
      expect(read.logits.length).toBeGreaterThan(0);
      expect(read.logits).toEqual(own.logits);
      expect(read.cache).toEqual(own.cache);
    });
  }

  test("through onnxruntime-node's binding too (outputs copied, not written in place)", async () => {
    const own = await prefillAll("tiny-gpt2", "model_quantized.onnx", { embeddingRows: false, inPlaceOutputs: false });
    const read = await prefillAll("tiny-gpt2", "model_quantized.onnx", { embeddingRows: true, inPlaceOutputs: false });
    expect(read.logits).toEqual(own.logits);
    expect(read.cache).toEqual(own.cache);
  });

  test("a second load reads the table's place from the cache's record; without the option the graph keeps its lookup", () => {
    const source = join(MODELS, "tiny-llama/onnx/model.onnx");
    const first = prepareDecoderFile(source, cacheDir, undefined, false, false, true);
    const again = prepareDecoderFile(source, cacheDir, undefined, false, false, true);
    expect(again).toEqual(first);
    const plain = prepareDecoderFile(source, cacheDir);
    expect(plain.rewrites).not.toContain("embedding-rows");
    expect(plain.embeddings).toBeUndefined();
    expect(readModel(readFileSync(plain.path)).inputs.some((i) => i.name === TOKEN_EMBEDDINGS_INPUT)).toBe(false);
  });

  test("a rewrite of the entry replaces its data file instead of writing into the one a running server reads", () => {
    const source = join(MODELS, "tiny-llama/onnx/model_int8.onnx");
    const first = prepareDecoderFile(source, cacheDir, undefined, false, false, true);
    const rows = new EmbeddingRows(first.embeddings!);
    try {
      const before = Array.from(rows.tensor([1, 2, 3], [1, 3]).data as Int8Array);
      const inode = statSync(first.embeddings!.file).ino;
      rmSync(join(dirname(first.path), "rewrites.json"));
      const again = prepareDecoderFile(source, cacheDir, undefined, false, false, true);
      expect(again).toEqual(first);
      expect(statSync(again.embeddings!.file).ino).not.toBe(inode);
      expect(Array.from(rows.tensor([1, 2, 3], [1, 3]).data as Int8Array)).toEqual(before);
      expect(readdirSync(dirname(first.path)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
    } finally {
      rows.close();
    }
  });

  test("rows are read as Gather reads them (a negative id from the end); an id past the table is refused, not read", () => {
    const prepared = prepareDecoderFile(join(MODELS, "tiny-gpt2/onnx/model.onnx"), cacheDir, undefined, false, false, true);
    const rows = new EmbeddingRows(prepared.embeddings!);
    try {
      const { rows: count, width } = prepared.embeddings!;
      const last = rows.tensor([count - 1], [1, 1]);
      expect(last.dims).toEqual([1, 1, width]);
      expect(Array.from(rows.tensor([-1], [1, 1]).data as Float32Array)).toEqual(Array.from(last.data as Float32Array));
      const pair = rows.tensor([3, count - 1], [2, 1]).data as Float32Array;
      expect(Array.from(pair.subarray(width))).toEqual(Array.from(last.data as Float32Array));
      expect(() => rows.tensor([count], [1, 1])).toThrow(`token id ${count} is outside the embedding table (${count} rows)`);
    } finally {
      rows.close();
    }
    expect(() => rows.tensor([0], [1, 1])).toThrow("closed");
  });
});

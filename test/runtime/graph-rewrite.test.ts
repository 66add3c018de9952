import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { onnx } from "onnx-proto";
import { EXTERNAL_MIN_BYTES, PAGE } from "../../src/runtime/graph-rewrite/external-data.ts";
import { readModel } from "../../src/runtime/graph-rewrite/onnx-graph.ts";
import { fileHash, prepareDecoderFile, REWRITE_VERSION, tiedHeadBytes } from "../../src/runtime/graph-rewrite/rewrite-cache.ts";
import { ort } from "../../src/runtime/onnx.ts";

const MODELS = resolve(import.meta.dir, "../../models");
const cacheDir = mkdtempSync(join(tmpdir(), "gpt3dev-rewrite-"));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const CASES = [
  { file: "tiny-gpt2/onnx/model.onnx", rewrites: ["tied-lm-head", "last-logits"] },
  { file: "tiny-gpt2/onnx/model_quantized.onnx", rewrites: ["last-logits"] },
  { file: "tiny-llama/onnx/model.onnx", rewrites: ["last-logits"] },
  { file: "tiny-llama/onnx/model_quantized.onnx", rewrites: ["last-logits"] },
];

/** Two left-padded rows of three positions (the second has one padding position), empty cache. */
function feeds(session: ort.InferenceSession, keep?: number): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {};
  const metadata = session.inputMetadata as unknown as Array<{ name: string; shape: Array<number | string> }>;
  for (const m of metadata) {
    if (!m.name.startsWith("past_key_values")) continue;
    f[m.name] = new ort.Tensor("float32", new Float32Array(0), [2, m.shape[1] as number, 0, m.shape[3] as number]);
  }
  const int64 = (values: number[], dims: number[]) => new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), dims);
  f.input_ids = int64([5, 6, 7, 0, 9, 10], [2, 3]);
  f.attention_mask = int64([1, 1, 1, 0, 1, 1], [2, 3]);
  if (session.inputNames.includes("position_ids")) f.position_ids = int64([0, 1, 2, 0, 0, 1], [2, 3]);
  if (keep !== undefined) f.num_logits_to_keep = int64([keep], []);
  return f;
}

/** Positions [from, 3) of each row of all-position logits [2, 3, vocab]. */
function lastPositions(logits: ort.Tensor, from: number): Float32Array {
  const vocab = logits.dims[2] as number;
  const data = logits.data as Float32Array;
  const keep = 3 - from;
  const out = new Float32Array(2 * keep * vocab);
  for (let r = 0; r < 2; r++) out.set(data.subarray((r * 3 + from) * vocab, (r * 3 + 3) * vocab), r * keep * vocab);
  return out;
}

describe("load-time graph rewrites", () => {
  for (const { file, rewrites } of CASES) {
    test(`${file}: ${rewrites.join(" + ")}, logits and cache identical to the original's`, async () => {
      const source = join(MODELS, file);
      const prepared = prepareDecoderFile(source, cacheDir);
      expect(prepared.warning).toBeUndefined();
      expect(prepared.rewrites).toEqual(rewrites as never);
      expect(prepared.path).not.toBe(source);
      const original = await ort.InferenceSession.create(source);
      const rewritten = await ort.InferenceSession.create(prepared.path);
      try {
        // A weight declared as a graph input is not an input callers feed.
        expect(rewritten.inputNames).toEqual([...original.inputNames, "num_logits_to_keep"]);
        expect(original.inputNames).not.toContain("num_logits_to_keep");
        expect(rewritten.inputNames).toContain("num_logits_to_keep");
        const full = await original.run(feeds(original));
        for (const keep of [1, 2, 0, 3]) {
          const out = await rewritten.run(feeds(rewritten, keep));
          const kept = keep === 0 ? 3 : keep;
          expect(out.logits!.dims).toEqual([2, kept, full.logits!.dims[2]!]);
          expect(Array.from(out.logits!.data as Float32Array)).toEqual(Array.from(lastPositions(full.logits!, 3 - kept)));
          for (const name of original.outputNames.filter((n) => n.startsWith("present"))) {
            expect(Array.from(out[name]!.data as Float32Array)).toEqual(Array.from(full[name]!.data as Float32Array));
          }
        }
      } finally {
        await original.release();
        await rewritten.release();
      }
    });
  }

  test("the tied LM head reads the embedding table itself: no Transpose of it is left to fold", async () => {
    const prepared = prepareDecoderFile(join(MODELS, "tiny-gpt2/onnx/model.onnx"), cacheDir);
    const before = readModel(Bun.mmap(join(MODELS, "tiny-gpt2/onnx/model.onnx")));
    const after = readModel(Bun.mmap(prepared.path));
    const transposes = (m: typeof before) => m.nodes.filter((e) => e.node.opType === "Transpose" && e.node.input?.[0] === "transformer.wte.weight");
    expect(transposes(before)).toHaveLength(1);
    expect(transposes(after)).toHaveLength(0);
    // The head multiplies by the table as its left operand, (W · xᵀ)ᵀ: MLAS reads the table in place.
    const heads = after.nodes.filter((e) => e.node.opType === "MatMul" && e.node.input?.includes("transformer.wte.weight"));
    expect(heads.map((e) => e.node.input?.indexOf("transformer.wte.weight"))).toEqual([0]);
    expect(after.nodes.some((e) => e.node.opType === "FusedMatMul")).toBe(false);
    // Nor does ONNX Runtime fold one back: its optimized graph holds no [hidden, vocab] copy of the table and multiplies
    // by the table with a plain MatMul (a FusedMatMul with transB would pack the table on every run of several rows).
    const optimizedModelFilePath = join(cacheDir, "tied-head-optimized.onnx");
    const session = await ort.InferenceSession.create(prepared.path, { logSeverityLevel: 3, graphOptimizationLevel: "all", optimizedModelFilePath });
    await session.release();
    const optimized = readModel(new Uint8Array(readFileSync(optimizedModelFilePath)));
    const [vocab, hidden] = after.initializers.get("transformer.wte.weight")!.dims;
    expect([...optimized.initializers.values()].filter((i) => i.dims.join() === `${hidden},${vocab}`)).toEqual([]);
    expect(optimized.nodes.filter((e) => e.node.input?.includes("transformer.wte.weight")).map((e) => e.node.opType).sort()).toEqual(["Gather", "MatMul"]);
    // The table is declared as a graph input, so ONNX Runtime keeps it as a value it neither folds nor pre-packs.
    expect(before.inputs.map((i) => i.name)).not.toContain("transformer.wte.weight");
    const declared = after.inputs.find((i) => i.name === "transformer.wte.weight");
    expect(declared?.type?.tensorType?.shape?.dim?.map((d) => Number(d.dimValue))).toEqual(after.initializers.get("transformer.wte.weight")!.dims);
  });

  test("a packed head (--tied-head packed) is left as the file has it, for ONNX Runtime to pack; the rest is rewritten", async () => {
    const source = join(MODELS, "tiny-gpt2/onnx/model.onnx");
    const prepared = prepareDecoderFile(source, cacheDir, undefined, false, true);
    const shared = prepareDecoderFile(source, cacheDir);
    expect(prepared.rewrites).toEqual(["last-logits"]);
    expect(prepared.path).not.toBe(shared.path);
    const after = readModel(Bun.mmap(prepared.path));
    expect(after.nodes.filter((e) => e.node.opType === "Transpose" && e.node.input?.[0] === "transformer.wte.weight")).toHaveLength(1);
    expect(after.nodes.some((e) => e.node.opType === "FusedMatMul")).toBe(false);
    expect(after.inputs.map((i) => i.name)).not.toContain("transformer.wte.weight");
    const original = await ort.InferenceSession.create(source);
    const rewritten = await ort.InferenceSession.create(prepared.path);
    try {
      const full = await original.run(feeds(original));
      const out = await rewritten.run(feeds(rewritten, 1));
      expect(Array.from(out.logits!.data as Float32Array)).toEqual(Array.from(lastPositions(full.logits!, 2)));
    } finally {
      await original.release();
      await rewritten.release();
    }
  });

  test("the bytes a packed head adds are its table's: GPT-2's wte in float32, nothing for files without a tied head", () => {
    const config = JSON.parse(readFileSync(join(MODELS, "tiny-gpt2/config.json"), "utf8")) as { vocab_size: number; n_embd: number };
    expect(tiedHeadBytes(join(MODELS, "tiny-gpt2/onnx/model.onnx"))).toBe(config.vocab_size * config.n_embd * 4);
    // The int8 export's head reads the int8 table (MatMulInteger), the Llama's head is untied.
    for (const file of ["tiny-gpt2/onnx/model_quantized.onnx", "tiny-llama/onnx/model.onnx", "tiny-llama/onnx/model_fp16.onnx"]) {
      expect({ file, bytes: tiedHeadBytes(join(MODELS, file)) }).toEqual({ file, bytes: 0 });
    }
    expect(tiedHeadBytes(join(MODELS, "no-such-model.onnx"))).toBe(0);
  });

  test("large weights go to a data file beside the graph, byte for byte, each at a page boundary", () => {
    const source = join(MODELS, "tiny-gpt2/onnx/model.onnx");
    const prepared = prepareDecoderFile(source, cacheDir);
    const before = readModel(Bun.mmap(source));
    const after = readModel(Bun.mmap(prepared.path));
    const data = Bun.mmap(join(prepared.path, "..", "model.onnx.data"));
    const raw = (m: typeof before, name: string) => onnx.TensorProto.decode(m.bytes.subarray(m.initializers.get(name)!.field.body, m.initializers.get(name)!.field.end));
    let moved = 0;
    for (const init of before.initializers.values()) {
      const original = raw(before, init.name);
      const rewritten = raw(after, init.name);
      const size = original.rawData?.length ?? 0;
      if (size < EXTERNAL_MIN_BYTES) {
        expect(rewritten.dataLocation ?? 0).toBe(0);
        continue;
      }
      moved++;
      expect(rewritten.dataLocation).toBe(onnx.TensorProto.DataLocation.EXTERNAL);
      expect(rewritten.rawData?.length ?? 0).toBe(0);
      const where = Object.fromEntries((rewritten.externalData ?? []).map((e) => [e.key, e.value]));
      expect(where.location).toBe("model.onnx.data");
      expect(Number(where.offset) % PAGE).toBe(0);
      expect(Number(where.length)).toBe(size);
      expect(Buffer.from(data.subarray(Number(where.offset), Number(where.offset) + size)).equals(Buffer.from(original.rawData!))).toBe(true);
      expect(rewritten.dims.map(Number)).toEqual(original.dims.map(Number));
    }
    // This tiny model has one weight that large: its token embedding table (84 KB).
    expect(moved).toBe(1);
    expect(statSync(prepared.path).size).toBeLessThan(statSync(source).size - EXTERNAL_MIN_BYTES);
  });

  test("the cache is used as it is the second time; a graph that needs nothing opens from where it is", () => {
    const source = join(MODELS, "tiny-llama/onnx/model.onnx");
    const first = prepareDecoderFile(source, cacheDir);
    const written = statSync(first.path).mtimeMs;
    const again = prepareDecoderFile(source, cacheDir);
    expect(again).toEqual(first);
    expect(statSync(again.path).mtimeMs).toBe(written);
    const twice = prepareDecoderFile(first.path, cacheDir);
    expect(twice).toEqual({ path: first.path, rewrites: [] });
  });

  test("writing an entry removes the entries older rewrite versions made for the same file, and only those", () => {
    const dir = mkdtempSync(join(tmpdir(), "gpt3dev-rewrite-prune-"));
    try {
      const source = join(MODELS, "tiny-gpt2/onnx/model_quantized.onnx");
      const hash = fileHash(source);
      const other = "0".repeat(64);
      const old = [`${hash}-v1`, `${hash}-v4-gqa4`, `${hash}-v${REWRITE_VERSION - 1}`, `${hash}-v${REWRITE_VERSION - 1}-gqa4-f16-ph`];
      const kept = [`${other}-v1`, `${hash}-notes`, `${hash}-v${REWRITE_VERSION + 1}`];
      for (const name of [...old, ...kept]) {
        mkdirSync(join(dir, name));
        writeFileSync(join(dir, name, "rewrites.json"), "{}");
      }
      const prepared = prepareDecoderFile(source, dir);
      expect(prepared.rewrites.length).toBeGreaterThan(0);
      for (const name of old) expect(existsSync(join(dir, name))).toBe(false);
      expect(readdirSync(dir).sort()).toEqual([...kept, `${hash}-v${REWRITE_VERSION}`].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an unusable cache folder leaves the model as it is, with a warning saying why", () => {
    const blocker = join(cacheDir, "not-a-folder");
    writeFileSync(blocker, "");
    const source = join(MODELS, "tiny-gpt2/onnx/model.onnx");
    const prepared = prepareDecoderFile(source, join(blocker, "graphs"));
    expect(prepared.path).toBe(source);
    expect(prepared.rewrites).toEqual([]);
    expect(prepared.warning).toContain("graph rewrites skipped");
  });
});

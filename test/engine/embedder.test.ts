import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EmbeddingModel } from "../../src/engine/embedder.ts";
import { ContextLengthError, InvalidInputError } from "../../src/engine/errors.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import { createSession, int64Tensor } from "../../src/runtime/session.ts";
import { loadTokenizer } from "../../src/runtime/model-tokenizer.ts";
import { maxDiff, norm } from "../formats/vector-compare.ts";

const TINY_BERT = resolve(import.meta.dir, "../../models/tiny-bert");
const WIDTH = 32;
const CONTEXT = 128;
const VOCAB_SIZE = 400;
const TEXTS = ["hello world", "The quick brown fox", "the the the", "hello world"];

let root: string;
const models: Record<string, EmbeddingModel> = {};
// The fixture's vocabulary may grow, so exact ids come from its tokenizer; [CLS]/[SEP] from tokenizer.json itself.
let encode: (text: string, specials?: boolean) => number[];
let CLS: number;
let SEP: number;
let HELLO_WORLD_IDS: number[];

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot / (norm(a) * norm(b));
}

async function rejection(promise: Promise<unknown>): Promise<InvalidInputError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidInputError);
  return error as InvalidInputError;
}

beforeAll(async () => {
  if (!existsSync(join(TINY_BERT, "config.json"))) throw new Error(`${TINY_BERT} is missing: run \`bun run fixtures\``);
  const tokenizer = await loadTokenizer(TINY_BERT);
  encode = (text, specials = true) => tokenizer.encode(text, { add_special_tokens: specials });
  const vocab = JSON.parse(readFileSync(join(TINY_BERT, "tokenizer.json"), "utf8")).model.vocab as Record<string, number>;
  [CLS, SEP] = [vocab["[CLS]"]!, vocab["[SEP]"]!];
  HELLO_WORLD_IDS = encode("hello world");
  expect(HELLO_WORLD_IDS).toEqual([CLS, ...encode("hello world", false), SEP]);
  expect(encode("the the the")).toEqual([CLS, vocab.the!, vocab.the!, vocab.the!, SEP]);
  root = mkdtempSync(join(tmpdir(), "gpt3dev-embedder-"));
  const registryPath = join(root, "registry.json");
  writeFileSync(
    registryPath,
    JSON.stringify([
      { name: "plain", path: TINY_BERT },
      { name: "mrl-any", path: TINY_BERT, matryoshka_dimensions: true },
      { name: "mrl-list", path: TINY_BERT, matryoshka_dimensions: [8, 16] },
      { name: "raw-mean", path: TINY_BERT, normalize: false },
      { name: "raw-cls", path: TINY_BERT, normalize: false, pooling: "cls" },
      { name: "truncating", path: TINY_BERT, truncate: true },
      { name: "short", path: TINY_BERT, max_context_tokens: 6 },
    ]),
  );
  const registry = new ModelRegistry({ modelsDir: join(root, "none"), registryPath });
  for (const spec of registry.list()) models[spec.id] = await EmbeddingModel.load(spec, { intraOpThreads: 1 });
});

afterAll(async () => {
  await Promise.all(Object.values(models).map((m) => m.release()));
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("EmbeddingModel on tiny-bert", () => {
  it("reads the width and context limit from config.json and the registry", () => {
    expect(models.plain!.width).toBe(WIDTH);
    expect(models.plain!.contextLength).toBe(CONTEXT);
    expect(models.short!.contextLength).toBe(6);
  });

  it("gives unit vectors, the same vector for the same text, and different ones for different texts", async () => {
    const { vectors, promptTokens } = await models.plain!.embed(TEXTS);
    expect(vectors).toHaveLength(4);
    for (const v of vectors) {
      expect(v.length).toBe(WIDTH);
      expect(Math.abs(norm(v) - 1)).toBeLessThan(1e-6);
    }
    expect(Math.abs(cosine(vectors[0]!, vectors[3]!) - 1)).toBeLessThan(1e-6);
    expect(cosine(vectors[0]!, vectors[1]!)).toBeLessThan(0.999);
    // [CLS] and [SEP] count.
    expect(promptTokens).toBe(2 * HELLO_WORLD_IDS.length + encode("The quick brown fox").length + 5);
  });

  it("gives each input the vector it gets alone: padding in a batch changes nothing", async () => {
    const batch = await models.plain!.embed(TEXTS);
    for (const [i, text] of TEXTS.entries()) {
      const single = await models.plain!.embed([text]);
      expect(maxDiff(single.vectors[0]!, batch.vectors[i]!)).toBeLessThan(1e-5);
    }
  });

  it("treats token ids as the model's own tokens, special tokens included", async () => {
    const fromText = await models.plain!.embed(["hello world"]);
    const fromIds = await models.plain!.embed([HELLO_WORLD_IDS, "hello world"]);
    expect(fromText.promptTokens).toBe(HELLO_WORLD_IDS.length);
    expect(fromIds.promptTokens).toBe(2 * HELLO_WORLD_IDS.length);
    expect(maxDiff(fromIds.vectors[0]!, fromText.vectors[0]!)).toBeLessThan(1e-6);
    const bare = await models.plain!.embed([HELLO_WORLD_IDS.slice(1, -1)]);
    expect(cosine(bare.vectors[0]!, fromText.vectors[0]!)).toBeLessThan(0.9999);
  });

  it("mean-pools and CLS-pools exactly what the encoder outputs", async () => {
    const session = await createSession(join(TINY_BERT, "onnx", "model.onnx"), { intraOpThreads: 1 });
    const dims = [1, HELLO_WORLD_IDS.length];
    const out = await session.run({
      input_ids: int64Tensor(HELLO_WORLD_IDS, dims),
      attention_mask: int64Tensor(HELLO_WORLD_IDS.map(() => 1), dims),
      token_type_ids: int64Tensor(HELLO_WORLD_IDS.map(() => 0), dims),
    });
    await session.release();
    const hidden = out.last_hidden_state!.data as Float32Array;
    const mean = new Float32Array(WIDTH).map((_, d) => {
      let sum = 0;
      for (let s = 0; s < HELLO_WORLD_IDS.length; s++) sum += hidden[s * WIDTH + d]!;
      return sum / HELLO_WORLD_IDS.length;
    });
    // A longer companion makes "hello world" a padded row, so the mask must keep the padding out.
    const batch = ["hello world", "the quick brown fox and the lazy dog by the river"];
    expect(encode(batch[1]!).length).toBeGreaterThan(HELLO_WORLD_IDS.length);
    const [rawMean] = (await models["raw-mean"]!.embed(batch)).vectors;
    const [rawCls] = (await models["raw-cls"]!.embed(batch)).vectors;
    expect(maxDiff(rawMean!, mean)).toBeLessThan(1e-6);
    expect(maxDiff(rawCls!, hidden.slice(0, WIDTH))).toBeLessThan(1e-6);
    expect(Math.abs(norm(rawMean!) - 1)).toBeGreaterThan(1e-3);
    const [unit] = (await models.plain!.embed(["hello world"])).vectors;
    expect(maxDiff(unit!, mean.map((x) => x / norm(mean)))).toBeLessThan(1e-6);
  });

  it("truncates to the requested dimensions and renormalises", async () => {
    const [full] = (await models["mrl-any"]!.embed(["hello world"])).vectors;
    for (const dimensions of [1, 8, 31, 32]) {
      const [short] = (await models["mrl-any"]!.embed(["hello world"], { dimensions })).vectors;
      expect(short!.length).toBe(dimensions);
      expect(Math.abs(norm(short!) - 1)).toBeLessThan(1e-6);
      const head = full!.slice(0, dimensions);
      expect(maxDiff(short!, head.map((x) => x / norm(head)))).toBeLessThan(1e-6);
    }
    const [listed] = (await models["mrl-list"]!.embed(["hello world"], { dimensions: 16 })).vectors;
    expect(listed!.length).toBe(16);
  });

  it("refuses dimensions the model does not offer, naming the field", async () => {
    const notOffered = await rejection(models.plain!.embed(["x"], { dimensions: 8 }));
    expect(notOffered.argument).toBe("dimensions");
    expect(notOffered.message).toBe("the model 'plain' does not support specifying dimensions");
    const tooWide = await rejection(models["mrl-any"]!.embed(["x"], { dimensions: 33 }));
    expect(tooWide.message).toBe("the model 'mrl-any' accepts an integer from 1 to 32, got 33");
    const unlisted = await rejection(models["mrl-list"]!.embed(["x"], { dimensions: 12 }));
    expect(unlisted.message).toBe("the model 'mrl-list' accepts one of 16, 8, got 12");
  });

  it("refuses inputs longer than the context", async () => {
    const error = await models.short!.embed(["the", "the the the the the"]).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ContextLengthError);
    expect(error).toMatchObject({ limit: 6, promptTokens: 7, completionTokens: 0, argument: "inputs" });
    const tooLong = await models.plain!.embed(["the ".repeat(CONTEXT - 1)]).then(() => undefined, (e: unknown) => e);
    expect(tooLong).toBeInstanceOf(ContextLengthError);
    expect((await models.plain!.embed(["the ".repeat(CONTEXT - 2)])).promptTokens).toBe(CONTEXT);
  });

  it("cuts long inputs when the registry allows it, keeping [CLS] and [SEP]", async () => {
    const long = "the quick fox ".repeat(60);
    const filler = encode("the", false)[0]!;
    const cut = await models.truncating!.embed([long, HELLO_WORLD_IDS.concat(new Array(200).fill(filler))]);
    expect(cut.promptTokens).toBe(2 * CONTEXT);
    const body = encode(long, false);
    expect(body.length).toBeGreaterThan(CONTEXT);
    const textIds = [CLS, ...body.slice(0, CONTEXT - 2), SEP];
    const idsCut = HELLO_WORLD_IDS.concat(new Array(CONTEXT - HELLO_WORLD_IDS.length).fill(filler));
    const expected = await models.plain!.embed([textIds, idsCut]);
    expect(maxDiff(cut.vectors[0]!, expected.vectors[0]!)).toBeLessThan(1e-6);
    expect(maxDiff(cut.vectors[1]!, expected.vectors[1]!)).toBeLessThan(1e-6);
  });

  it("refuses token ids outside the vocabulary and empty inputs", async () => {
    const outside = await rejection(models.plain!.embed([[CLS, VOCAB_SIZE, SEP]]));
    expect(outside.message).toBe(`token id ${VOCAB_SIZE} is outside the vocabulary of the model 'plain' (ids 0 to ${VOCAB_SIZE - 1})`);
    expect(outside.argument).toBe("inputs[0]");
    expect((await rejection(models.plain!.embed(["ok", [CLS, -1, SEP]]))).argument).toBe("inputs[1]");
    expect((await rejection(models.plain!.embed([""]))).argument).toBe("inputs[0]");
    expect((await rejection(models.plain!.embed(["ok", "ok", []]))).argument).toBe("inputs[2]");
    expect((await rejection(models.plain!.embed([]))).argument).toBe("inputs");
  });
});

// One tiny encoder per embedding family (scripts/fixtures/encoders.ts: each family's I/O contract, config.json and
// sentence-transformers files), served through the real server and the compiled binary, compared value by value with
// transformers.js's feature-extraction pipeline on the same files, with the pooling and normalisation the folder's
// modules.json and 1_Pooling/config.json ask for; every family in every weight format transformers.js names.
import { beforeAll, describe, expect, it } from "bun:test";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeModels } from "../../scripts/make-models.ts";
import { ENCODER_FAMILIES, ENCODER_FORMATS, modulesJson, poolingConfig, type EncoderPooling } from "../../scripts/fixtures/encoders.ts";
import { referenceEmbeddings } from "../formats/embedding-reference.ts";
import { maxDiff, norm } from "../formats/vector-compare.ts";
import { fixtureFolder, type ServedFile } from "./fixture-folder.ts";
import { describeEachMode, expectNotServable } from "./suite.ts";

const MODELS = fixtureFolder("gpt3dev-encoders-");
const OUT = MODELS.dir;
// Different lengths, so every batch is right-padded and the padding must stay out of each vector.
const TEXTS = ["hello world", "The quick brown fox jumps over the lazy dog by the river", "query: how cold was the morning?"];
// Same files, same batch: the numbers agree to float32 rounding (a few 1e-8); fp16 against fp32 differs by ~1e-5.
const TOLERANCE = 1e-6;

interface Served extends ServedFile {
  pooling: EncoderPooling;
  normalize: boolean;
}

/** Served id → what the server must do with it: each family in each format, and MiniLM copies with other pooling. */
const SERVED: Record<string, Served> = {
  // No sentence-transformers files: mean pooling and unit vectors, as OpenAI's embeddings are.
  "tiny-bert": { folder: "tiny-bert", dtype: "fp32", pooling: "mean", normalize: true },
  "tiny-bert-q8": { folder: "tiny-bert", dtype: "q8", pooling: "mean", normalize: true },
};
for (const f of ENCODER_FAMILIES) {
  for (const dtype of ENCODER_FORMATS) {
    SERVED[dtype === "fp32" ? f.id : `${f.id}-${dtype}`] = { folder: f.id, dtype, pooling: f.pooling, normalize: f.normalize };
  }
}
// sentence-transformers folders with the other pooling modes and no Normalize module.
const OTHER_POOLING = ["max", "lasttoken", "mean_sqrt_len", "weightedmean"] as const;
for (const pooling of OTHER_POOLING) SERVED[`pool-${pooling}`] = { folder: `pool-${pooling}`, dtype: "fp32", pooling, normalize: false };

const expected = new Map<string, number[][]>();

beforeAll(async () => {
  makeModels({ outDir: OUT, ids: ["tiny-bert", "tiny-llama", ...ENCODER_FAMILIES.map((f) => f.id)] });
  for (const pooling of OTHER_POOLING) {
    const dir = join(OUT, `pool-${pooling}`);
    cpSync(join(OUT, "encoder-minilm"), dir, { recursive: true });
    writeFileSync(join(dir, "modules.json"), JSON.stringify(modulesJson(false)));
    writeFileSync(join(dir, "1_Pooling", "config.json"), JSON.stringify(poolingConfig(32, pooling)));
  }
  // A Dense projection after pooling is not in the ONNX graph: serving the pooled vector would be wrong.
  cpSync(join(OUT, "encoder-minilm"), join(OUT, "with-dense"), { recursive: true });
  writeFileSync(join(OUT, "with-dense", "modules.json"), JSON.stringify([...modulesJson(true), { idx: 3, name: "3", path: "3_Dense", type: "sentence_transformers.models.Dense" }]));
  // Two pooling modes at once, which sentence-transformers concatenates: not applied.
  cpSync(join(OUT, "encoder-minilm"), join(OUT, "pool-combined"), { recursive: true });
  writeFileSync(join(OUT, "pool-combined", "1_Pooling", "config.json"), JSON.stringify({ ...poolingConfig(32, "mean"), pooling_mode_max_tokens: true }));
  // A decoder declared as an embeddings model: refused when it loads, because of its inputs.
  MODELS.writeRegistry(SERVED, ["- name: llama-as-encoder\n  path: tiny-llama\n  kind: embeddings\n"]);
  for (const [id, s] of Object.entries(SERVED)) expected.set(id, await referenceEmbeddings(join(OUT, s.folder), s.dtype, TEXTS, s.pooling, s.normalize));
});


describe("encoder family fixtures", () => {
  it("give each family, dtype and pooling its own vectors (the comparison below could fail)", () => {
    const firsts = [...expected.values()].map((vectors) => vectors[0]!);
    for (const [i, a] of firsts.entries()) for (const b of firsts.slice(i + 1)) expect(maxDiff(a, b)).toBeGreaterThan(10 * TOLERANCE);
  });

  it("reference vectors are unit length exactly where the folder has a Normalize module", () => {
    for (const [id, s] of Object.entries(SERVED)) {
      for (const v of expected.get(id)!) expect({ id, unit: Math.abs(norm(v) - 1) < 1e-5 }).toEqual({ id, unit: s.normalize });
    }
  });
});

describeEachMode(
  "encoder families",
  (ctx) => {
    it("embeds as transformers.js does for every family, dtype and pooling, with the folder's normalisation", async () => {
      for (const id of Object.keys(SERVED)) {
        const response = await ctx().client.embeddings.create({ model: id, input: TEXTS, encoding_format: "float" });
        const vectors = [...response.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
        const diffs = vectors.map((v, i) => maxDiff(v, expected.get(id)![i]!));
        expect({ id, close: diffs.every((d) => d < TOLERANCE) }).toEqual({ id, close: true });
      }
    });

    it("refuses a folder whose modules or graph inputs it cannot apply or feed with 400 and the reason, and keeps serving", async () => {
      const { client, post } = ctx();
      const reasons: Record<string, string> = {
        "with-dense": "modules.json has modules gpt3dev does not apply after the encoder: Dense",
        "pool-combined":
          "the sentence-transformers Pooling config sets several pooling modes at once (pooling_mode_mean_tokens, pooling_mode_max_tokens), whose vectors it concatenates; gpt3dev applies exactly one",
        "llama-as-encoder": "the ONNX graph has inputs gpt3dev cannot feed: past_key_values.0.key, past_key_values.0.value, past_key_values.1.key, past_key_values.1.value",
      };
      for (const [id, reason] of Object.entries(reasons)) {
        await expectNotServable(await post("/v1/embeddings", { model: id, input: "hello" }), id, reason);
      }
      const ok = await client.embeddings.create({ model: "encoder-bge", input: TEXTS[0]!, encoding_format: "float" });
      expect(maxDiff(ok.data[0]!.embedding, expected.get("encoder-bge")![0]!)).toBeLessThan(TOLERANCE);
    });
  },
  { args: [...MODELS.args, "--max-loaded-models", "4"] },
);

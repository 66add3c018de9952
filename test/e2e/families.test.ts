// One tiny model per decoder family (scripts/fixtures/families.ts: each family's I/O contract and config.json),
// served through the real server and the compiled binary, compared with transformers.js on the same files: fp32 for
// every family, q4f16 (float16 cache and logits, 4-bit weights) for every family, fp16 and q4 for Qwen2.
import { beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makeModels } from "../../scripts/make-models.ts";
import { FAMILIES } from "../../scripts/fixtures/families.ts";
import { referenceCompletions } from "../formats/reference.ts";
import { fixtureFolder, type ServedFile } from "./fixture-folder.ts";
import { describeEachMode, expectNotServable } from "./suite.ts";

const MODELS = fixtureFolder("gpt3dev-families-");
const OUT = MODELS.dir;
const PROMPTS = ["The morning was cold and", "She opened"];
const MAX_TOKENS = 10;

/** Served id → its folder and dtype: each family at fp32 (its folder's default) and at each other file it ships. */
const SERVED: Record<string, ServedFile> = {};
for (const family of FAMILIES) {
  SERVED[family.id] = { folder: family.id, dtype: "fp32" };
  for (const dtype of family.formats) SERVED[`${family.id}-${dtype}`] = { folder: family.id, dtype };
}

const expected = new Map<string, string[]>();

beforeAll(async () => {
  makeModels({ outDir: OUT, ids: [...FAMILIES.map((f) => f.id), "tiny-bert"] });
  // An encoder declared as a text-generation model: refused when it loads, because of its inputs.
  MODELS.writeRegistry(SERVED, ["- name: bert-as-decoder\n  path: tiny-bert\n  kind: text-generation\n"]);
  for (const [id, { folder, dtype }] of Object.entries(SERVED)) {
    expected.set(id, (await referenceCompletions(join(OUT, folder), dtype, PROMPTS, MAX_TOKENS)).map((r) => r.text));
  }
});

describe("family fixtures", () => {
  it("give each family its own output (the comparison below could fail)", () => {
    const fp32 = FAMILIES.map((f) => expected.get(f.id)!.join("|"));
    expect(new Set(fp32).size).toBe(FAMILIES.length);
  });

  it("carry each family's config quirks (GPT-NeoX without kv heads or head_dim, Qwen3 and Gemma with head_dim ≠ hidden/heads)", () => {
    const config = (id: string) => JSON.parse(readFileSync(join(OUT, id, "config.json"), "utf8")) as Record<string, unknown>;
    expect(config("family-gpt-neox")).not.toHaveProperty("num_key_value_heads");
    expect(config("family-gpt-neox")).not.toHaveProperty("head_dim");
    for (const id of ["family-qwen3", "family-gemma2", "family-gemma3"]) expect(config(id)).toMatchObject({ hidden_size: 32, num_attention_heads: 4, head_dim: 16 });
    expect(config("family-gemma2").final_logit_softcapping).toBe(30);
    expect(config("family-gemma3").model_type).toBe("gemma3_text");
  });
});

describeEachMode(
  "model families",
  (ctx) => {
    it("completes greedily exactly as transformers.js does, for every family and dtype, one prompt and a batch", async () => {
      const { client } = ctx();
      for (const id of Object.keys(SERVED)) {
        const alone = await client.completions.create({ model: id, prompt: PROMPTS[0]!, max_tokens: MAX_TOKENS, temperature: 0 });
        expect({ id, text: alone.choices[0]!.text }).toEqual({ id, text: expected.get(id)![0]! });
        const batch = await client.completions.create({ model: id, prompt: PROMPTS, max_tokens: MAX_TOKENS, temperature: 0 });
        const texts = [...batch.choices].sort((a, b) => a.index - b.index).map((c) => c.text);
        expect({ id, texts }).toEqual({ id, texts: expected.get(id)! });
      }
    });

    it("refuses a model whose graph it cannot feed with 400 and the inputs at fault, and keeps serving the others", async () => {
      const { client, post } = ctx();
      const response = await post("/v1/completions", { model: "bert-as-decoder", prompt: "Hi", max_tokens: 2 });
      await expectNotServable(response, "bert-as-decoder", "the ONNX graph has inputs gpt3dev cannot feed: token_type_ids");
      const ok = await client.completions.create({ model: "family-qwen2", prompt: PROMPTS[0]!, max_tokens: MAX_TOKENS, temperature: 0 });
      expect(ok.choices[0]!.text).toBe(expected.get("family-qwen2")![0]!);
    });
  },
  { args: [...MODELS.args, "--max-loaded-models", "4"] },
);

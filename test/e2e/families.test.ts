// One tiny model per decoder family (scripts/fixtures/families.ts: each family's I/O contract and config.json),
// served through the real server and the compiled binary, compared with transformers.js on the same files: fp32 for
// every family, q4f16 (float16 cache and logits, 4-bit weights) for every family, fp16 and q4 for Qwen2.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { makeModels } from "../../scripts/make-models.ts";
import { FAMILIES } from "../../scripts/fixtures/families.ts";
import { referenceCompletions } from "../formats/reference.ts";
import { serverModes, startServer, type RunningServer } from "./harness.ts";
import { errorOf } from "./suite.ts";

const OUT = mkdtempSync(join(tmpdir(), "gpt3dev-families-"));
const PROMPTS = ["The morning was cold and", "She opened"];
const MAX_TOKENS = 10;

/** Served id → [folder, dtype]: each family at fp32 (its folder's default) and at each other file it ships. */
const SERVED: Record<string, [string, string]> = {};
for (const family of FAMILIES) {
  SERVED[family.id] = [family.id, "fp32"];
  for (const dtype of family.formats) SERVED[`${family.id}-${dtype}`] = [family.id, dtype];
}

const expected = new Map<string, string[]>();

beforeAll(async () => {
  makeModels({ outDir: OUT, ids: [...FAMILIES.map((f) => f.id), "tiny-bert"] });
  const entries = Object.entries(SERVED)
    .filter(([id, [folder]]) => id !== folder)
    .map(([id, [folder, dtype]]) => `- name: ${id}\n  path: ${folder}\n  dtype: ${dtype}\n`);
  // An encoder declared as a text-generation model: refused when it loads, because of its inputs.
  entries.push("- name: bert-as-decoder\n  path: tiny-bert\n  kind: text-generation\n");
  writeFileSync(join(OUT, "registry.yaml"), entries.join(""));
  for (const [id, [folder, dtype]] of Object.entries(SERVED)) {
    expected.set(id, (await referenceCompletions(join(OUT, folder), dtype, PROMPTS, MAX_TOKENS)).map((r) => r.text));
  }
});

afterAll(() => rmSync(OUT, { recursive: true, force: true }));

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

for (const mode of serverModes()) {
  describe(`model families [${mode}]`, () => {
    let server: RunningServer;
    let client: OpenAI;
    beforeAll(async () => {
      server = await startServer({ mode, args: ["--models-dir", OUT, "--registry", join(OUT, "registry.yaml"), "--max-loaded-models", "4"] });
      client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: "unused", maxRetries: 0 });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it("completes greedily exactly as transformers.js does, for every family and dtype, one prompt and a batch", async () => {
      for (const id of Object.keys(SERVED)) {
        const alone = await client.completions.create({ model: id, prompt: PROMPTS[0]!, max_tokens: MAX_TOKENS, temperature: 0 });
        expect({ id, text: alone.choices[0]!.text }).toEqual({ id, text: expected.get(id)![0]! });
        const batch = await client.completions.create({ model: id, prompt: PROMPTS, max_tokens: MAX_TOKENS, temperature: 0 });
        const texts = [...batch.choices].sort((a, b) => a.index - b.index).map((c) => c.text);
        expect({ id, texts }).toEqual({ id, texts: expected.get(id)! });
      }
    });

    it("refuses a model whose graph it cannot feed with 400 and the inputs at fault, and keeps serving the others", async () => {
      const response = await fetch(`${server.baseURL}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "bert-as-decoder", prompt: "Hi", max_tokens: 2 }),
      });
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toEqual({
        message: "The model 'bert-as-decoder' cannot be served: the ONNX graph has inputs gpt3dev cannot feed: token_type_ids.",
        type: "invalid_request_error",
        param: "model",
        code: "model_not_supported",
      });
      const ok = await client.completions.create({ model: "family-qwen2", prompt: PROMPTS[0]!, max_tokens: MAX_TOKENS, temperature: 0 });
      expect(ok.choices[0]!.text).toBe(expected.get("family-qwen2")![0]!);
    });
  });
}

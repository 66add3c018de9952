// Every ONNX file a model repository ships, served through the real server (source and compiled binary) and compared
// with transformers.js on the same files: fp32, fp16 and q4f16 (float16 cache and logits), q4 (MatMulNBits), weights
// in model.onnx_data; the default dtype picked from the files; folders that cannot be served, with their reason.
import { beforeAll, describe, expect, it } from "bun:test";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeModels } from "../../scripts/make-models.ts";
import { referenceCompletions } from "../formats/reference.ts";
import { fixtureFolder, type ServedFile } from "./fixture-folder.ts";
import { describeEachMode, errorOf, expectNotServable } from "./suite.ts";

const MODELS = fixtureFolder("gpt3dev-formats-");
const OUT = MODELS.dir;
const PROMPTS = ["The morning was cold and", "She opened the door", "In the"];
const MAX_TOKENS = 12;
/** Long enough for several of the prefix cache's 16-token blocks, so a repeat reuses cached float16 keys and values. */
const LONG = "The morning was cold and the road was long. She opened the door, looked at the sky, and said that the day would be a good one after all, because the sun was out and the wind had gone.";
const REUSED = ["tiny-llama-fp16", "tiny-llama-q4f16"];

/** Served id → its folder and dtype: every dtype file of tiny-llama, and its twin with external data. */
const SERVED: Record<string, ServedFile> = {
  "tiny-llama": { folder: "tiny-llama", dtype: "fp32" },
  "tiny-llama-fp16": { folder: "tiny-llama", dtype: "fp16" },
  "tiny-llama-q4": { folder: "tiny-llama", dtype: "q4" },
  "tiny-llama-q4f16": { folder: "tiny-llama", dtype: "q4f16" },
  "tiny-llama-external": { folder: "tiny-llama-external", dtype: "fp32" },
  "half-only": { folder: "half-only", dtype: "q4f16" },
};

const expected = new Map<string, { ids: number[]; text: string }[]>();
const expectedLong = new Map<string, string>();

beforeAll(async () => {
  makeModels({ outDir: OUT, ids: ["tiny-llama", "tiny-llama-external"] });
  // A folder with nothing but the q4f16 file: the default dtype must be read from the files.
  mkdirSync(join(OUT, "half-only", "onnx"), { recursive: true });
  for (const f of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]) {
    cpSync(join(OUT, "tiny-llama", f), join(OUT, "half-only", f));
  }
  cpSync(join(OUT, "tiny-llama", "onnx", "model_q4f16.onnx"), join(OUT, "half-only", "onnx", "model_q4f16.onnx"));
  // A vision model's folder: refused with a reason, never loaded.
  cpSync(join(OUT, "half-only"), join(OUT, "a-vision-model"), { recursive: true });
  writeFileSync(join(OUT, "a-vision-model", "config.json"), JSON.stringify({ model_type: "llava", vision_config: {} }));
  MODELS.writeRegistry(SERVED);
  for (const [id, { folder, dtype }] of Object.entries(SERVED)) {
    expected.set(id, await referenceCompletions(join(OUT, folder), dtype, PROMPTS, MAX_TOKENS));
    if (REUSED.includes(id)) expectedLong.set(id, (await referenceCompletions(join(OUT, folder), dtype, [LONG], MAX_TOKENS))[0]!.text);
  }
});

describe("reference outputs", () => {
  it("differ between weight formats, so that serving the wrong file would be seen", () => {
    const texts = (id: string) => expected.get(id)!.map((r) => r.text).join("|");
    expect(texts("tiny-llama-q4")).not.toBe(texts("tiny-llama"));
    expect(texts("tiny-llama-q4f16")).not.toBe(texts("tiny-llama-q4"));
    // Same weights, other storage: the same numbers.
    expect(texts("tiny-llama-external")).toBe(texts("tiny-llama"));
    for (const results of expected.values()) for (const r of results) expect(r.ids.length).toBeGreaterThan(0);
  });
});

describeEachMode(
  "model files",
  (ctx) => {
    it("completes greedily exactly as transformers.js does, for every dtype and with external data", async () => {
      const { client } = ctx();
      for (const id of Object.keys(SERVED)) {
        for (const [i, prompt] of PROMPTS.entries()) {
          const completion = await client.completions.create({ model: id, prompt, max_tokens: MAX_TOKENS, temperature: 0 });
          const reference = expected.get(id)![i]!;
          expect({ id, prompt, text: completion.choices[0]!.text }).toEqual({ id, prompt, text: reference.text });
        }
      }
    });

    it("batches several prompts of different lengths in one request (left-padded float16 caches) with the same output", async () => {
      const { client } = ctx();
      for (const id of ["tiny-llama-fp16", "tiny-llama-q4f16", "tiny-llama-q4"]) {
        const completion = await client.completions.create({ model: id, prompt: PROMPTS, max_tokens: MAX_TOKENS, temperature: 0 });
        const texts = [...completion.choices].sort((a, b) => a.index - b.index).map((c) => c.text);
        expect({ id, texts }).toEqual({ id, texts: expected.get(id)!.map((r) => r.text) });
      }
    });

    it("reuses a repeated prompt's cached float16 keys and values with the same output", async () => {
      const { client } = ctx();
      for (const id of REUSED) {
        const first = await client.completions.create({ model: id, prompt: LONG, max_tokens: MAX_TOKENS, temperature: 0 });
        const again = await client.completions.create({ model: id, prompt: LONG, max_tokens: MAX_TOKENS, temperature: 0 });
        expect({ id, texts: [first.choices[0]!.text, again.choices[0]!.text] }).toEqual({ id, texts: [expectedLong.get(id)!, expectedLong.get(id)!] });
        const cached = (again.usage as { prompt_tokens_details?: { cached_tokens?: number } }).prompt_tokens_details?.cached_tokens ?? 0;
        expect(cached).toBeGreaterThanOrEqual(16);
      }
    });

    it("widens an fp16 model's matrix weights at load by default on a machine with room, and says so", async () => {
      const { client, server } = ctx();
      await client.completions.create({ model: "tiny-llama-fp16", prompt: PROMPTS[0]!, max_tokens: 1 });
      const model = (await (await fetch(`${server.baseURL}/v1/models/tiny-llama-fp16`)).json()) as { memory?: { fp16_weights?: string } };
      expect(model.memory?.fp16_weights).toBe("float32");
    });

    it("lists each model with the dtype it serves, the default read from the files", async () => {
      const { server } = ctx();
      const response = await fetch(`${server.baseURL}/v1/models`);
      const page = (await response.json()) as { data: { id: string; dtype: string }[] };
      const dtypes = Object.fromEntries(page.data.map((m) => [m.id, m.dtype]));
      expect(dtypes).toEqual(Object.fromEntries(Object.entries(SERVED).map(([id, { dtype }]) => [id, dtype])));
      expect(server.output()).toContain("half-only (q4f16, default)");
      expect(server.output()).toContain("tiny-llama-fp16 (fp16)");
    });

    it("names a folder it cannot serve in the start-up log and answers requests for it with 400 and the reason", async () => {
      const { server, post } = ctx();
      const reason = "'llava' takes images or audio; gpt3dev serves text models, Whisper speech recognition and VITS speech";
      expect(server.output()).toContain(`not serving a-vision-model: ${reason}`);
      await expectNotServable(await post("/v1/completions", { model: "a-vision-model", prompt: "Hi" }), "a-vision-model", reason);
      const retrieve = await fetch(`${server.baseURL}/v1/models/a-vision-model`);
      expect(retrieve.status).toBe(400);
      expect((await errorOf(retrieve)).message).toContain(reason);
    });
  },
  { args: MODELS.args },
);

describeEachMode(
  "fp16 weights kept fp16 (--fp16-weights float16)",
  (ctx) => {
    it("completes greedily exactly as transformers.js does on the fp16 file, and reports the weights as fp16", async () => {
      const { client, server } = ctx();
      for (const [i, prompt] of PROMPTS.entries()) {
        const completion = await client.completions.create({ model: "tiny-llama-fp16", prompt, max_tokens: MAX_TOKENS, temperature: 0 });
        expect({ prompt, text: completion.choices[0]!.text }).toEqual({ prompt, text: expected.get("tiny-llama-fp16")![i]!.text });
      }
      const model = (await (await fetch(`${server.baseURL}/v1/models/tiny-llama-fp16`)).json()) as { memory?: { fp16_weights?: string } };
      expect(model.memory?.fp16_weights).toBe("float16");
      // Other dtypes are served as they are.
      const q4 = await client.completions.create({ model: "tiny-llama-q4", prompt: PROMPTS[1]!, max_tokens: MAX_TOKENS, temperature: 0 });
      expect(q4.choices[0]!.text).toBe(expected.get("tiny-llama-q4")![1]!.text);
      const listed = (await (await fetch(`${server.baseURL}/v1/models/tiny-llama-q4`)).json()) as { memory?: { fp16_weights?: string } };
      expect(listed.memory).toBeDefined();
      expect(listed.memory?.fp16_weights).toBeUndefined();
    });
  },
  { args: [...MODELS.args, "--fp16-weights", "float16"] },
);

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { serverModes, startServer, type RunningServer } from "./harness.ts";
import { errorOf } from "./suite.ts";

const KEY = "management-test-key";
const DIR = mkdtempSync(join(tmpdir(), "gpt3dev-management-"));
const REGISTRY = join(DIR, "registry.yaml");
// tiny-gpt2 unloads a second after its last request; the others stay until asked (no global --keep-alive).
writeFileSync(REGISTRY, "models:\n  - name: tiny-gpt2\n    keep_alive: 1s\n");
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

interface ModelBody {
  id: string;
  object: string;
  loaded?: boolean;
  memory?: { file_bytes: number };
}

for (const mode of serverModes()) {
  describe(`POST /v1/models/{id}/load and /unload [${mode}]`, () => {
    let server: RunningServer;
    let client: OpenAI;
    const call = (method: string, path: string, body?: unknown, key: string | null = KEY) =>
      fetch(`${server.baseURL}${path}`, {
        method,
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const loadedIds = async () => {
      const page = (await (await call("GET", "/v1/models")).json()) as { data: ModelBody[] };
      for (const model of page.data) expect(typeof model.loaded).toBe("boolean");
      return page.data.filter((m) => m.loaded).map((m) => m.id).sort();
    };
    beforeAll(async () => {
      server = await startServer({ mode, args: ["--api-key", KEY, "--registry", REGISTRY, "--max-loaded-models", "4"] });
      client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: KEY, maxRetries: 0 });
    });
    afterAll(() => server?.stop());

    it("loads and unloads on request; GET /v1/models and /v1/models/{id} say which models are loaded", async () => {
      expect(await loadedIds()).toEqual([]);
      const loaded = (await (await call("POST", "/v1/models/tiny-bert/load")).json()) as ModelBody;
      expect(loaded).toMatchObject({ id: "tiny-bert", object: "model", loaded: true });
      expect(loaded.memory!.file_bytes).toBeGreaterThan(0);
      expect(await loadedIds()).toEqual(["tiny-bert"]);
      // The SDK's generic post, as a client without a typed method would call it.
      const viaSdk = await client.post<ModelBody>("/models/tiny-moderation/load");
      expect(viaSdk).toMatchObject({ id: "tiny-moderation", loaded: true });
      expect(((await client.models.retrieve("tiny-moderation")) as ModelBody).loaded).toBe(true);
      expect(await loadedIds()).toEqual(["tiny-bert", "tiny-moderation"]);
      const unloaded = (await (await call("POST", "/v1/models/tiny-bert/unload")).json()) as ModelBody;
      expect(unloaded).toMatchObject({ id: "tiny-bert", loaded: false });
      expect(unloaded.memory).toBeUndefined();
      expect(await loadedIds()).toEqual(["tiny-moderation"]);
      // Unloading what is not loaded is not an error: the model is in the state asked for.
      expect(((await client.post<ModelBody>("/models/tiny-bert/unload")) as ModelBody).loaded).toBe(false);
      await client.post("/models/tiny-moderation/unload");
      expect(await loadedIds()).toEqual([]);
    });

    it("answers unknown ids with 404 model_not_found and needs the API key", async () => {
      for (const action of ["load", "unload"]) {
        const missing = await call("POST", `/v1/models/no-such-model/${action}`);
        expect(missing.status).toBe(404);
        expect(await errorOf(missing)).toMatchObject({ param: "model", code: "model_not_found" });
        const anonymous = await call("POST", `/v1/models/tiny-bert/${action}`, undefined, null);
        expect(anonymous.status).toBe(401);
        expect((await errorOf(anonymous)).code).toBe("invalid_api_key");
        for (const id of ["..%2Ftiny-gpt2", "%2Fetc%2Fpasswd", "tiny-gpt2%00"]) {
          const response = await call("POST", `/v1/models/${id}/${action}`);
          expect(response.status).toBe(404);
          expect((await errorOf(response)).code).toBe("model_not_found");
        }
      }
      expect(await loadedIds()).toEqual([]);
    });

    it("lets a generation in flight finish before unloading; a request sent meanwhile is served after", async () => {
      // gpt2-vocab with end-of-text banned: 300 tokens run for a while, so the unload arrives mid-stream.
      const stream = await client.completions.create({
        model: "gpt2-vocab", prompt: "Hello", max_tokens: 300, temperature: 0, logit_bias: { 50256: -100 }, stream: true,
        stream_options: { include_usage: true },
      });
      let streamEnded = 0;
      let unloadedAt = 0;
      let meanwhileAt = 0;
      let completionTokens = 0;
      let finish: string | null = null;
      let unload: Promise<Response> | undefined;
      let meanwhile: Promise<OpenAI.Completion> | undefined;
      for await (const chunk of stream) {
        if (!unload) {
          unload = call("POST", "/v1/models/gpt2-vocab/unload").then((r) => ((unloadedAt = performance.now()), r));
          await Bun.sleep(20);
          meanwhile = client.completions.create({ model: "gpt2-vocab", prompt: "Hello", max_tokens: 2, temperature: 0 }).then((c) => ((meanwhileAt = performance.now()), c));
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
      }
      streamEnded = performance.now();
      const response = await unload!;
      expect(response.status).toBe(200);
      expect(((await response.json()) as ModelBody).loaded).toBe(false);
      // Not cut short: every asked-for token came, and the unload answered only once the stream was done.
      expect(finish).toBe("length");
      expect(completionTokens).toBe(300);
      expect(unloadedAt).toBeGreaterThanOrEqual(streamEnded);
      // The request sent during the unload waited for it, then loaded the model again.
      expect((await meanwhile!).usage!.completion_tokens).toBe(2);
      expect(meanwhileAt).toBeGreaterThanOrEqual(unloadedAt);
      expect(await loadedIds()).toEqual(["gpt2-vocab"]);
      await client.post("/models/gpt2-vocab/unload");
      expect(await loadedIds()).toEqual([]);
    });

    it("unloads a model idle for its registry keep_alive, and keeps the others", async () => {
      await client.post("/models/tiny-llama/load");
      const started = performance.now();
      expect((await client.post<ModelBody>("/models/tiny-gpt2/load")).loaded).toBe(true);
      let ids = await loadedIds();
      while (ids.includes("tiny-gpt2") && performance.now() - started < 15_000) {
        await Bun.sleep(50);
        ids = await loadedIds();
      }
      expect(ids).toEqual(["tiny-llama"]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(1_000);
      await client.post("/models/tiny-llama/unload");
    });
  });
}

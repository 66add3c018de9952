import { expect, it } from "bun:test";
import { NotFoundError } from "openai";
import { statSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./harness.ts";
import { describeEachMode, errorOf, jsonOf } from "./suite.ts";

const GENERATED = ["gpt2-vocab", "tiny-bert", "tiny-gpt2", "tiny-llama", "tiny-moderation", "tiny-vits", "tiny-whisper"];

describeEachMode("GET /v1/models", (ctx) => {
  it("lists every generated model in OpenAI's shape", async () => {
    const page = await ctx().client.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toEqual(GENERATED);
    for (const model of page.data) {
      expect(model.object).toBe("model");
      expect(model.owned_by).toBe("gpt3dev");
      expect(Number.isInteger(model.created)).toBe(true);
      expect(model.created).toBeGreaterThan(1_600_000_000);
    }
    const raw = await jsonOf(await fetch(`${ctx().server.baseURL}/v1/models`));
    expect(raw.object).toBe("list");
  });

  it("says what a loaded model costs in memory, and nothing for a model not loaded", async () => {
    await ctx().client.completions.create({ model: "tiny-gpt2", prompt: "Hello", max_tokens: 2 });
    type Listed = { id: string; memory?: Record<string, number> };
    const loaded = (await jsonOf(await fetch(`${ctx().server.baseURL}/v1/models/tiny-gpt2`))) as Listed & { memory: Record<string, number> };
    const file = statSync(join(REPO_ROOT, "models", "tiny-gpt2", "onnx", "model.onnx")).size;
    expect(loaded.memory).toMatchObject({ file_bytes: file, kv_cache_bytes: 0, kv_cache_reserved_bytes: 0 });
    expect(loaded.memory.loaded_rss_bytes).toBeGreaterThanOrEqual(0);
    // 25% of this machine's memory by default.
    expect(loaded.memory.kv_cache_limit_bytes).toBeGreaterThan(0);
    const page = (await jsonOf(await fetch(`${ctx().server.baseURL}/v1/models`))) as { data: Listed[] };
    const byId = new Map(page.data.map((m) => [m.id, m]));
    expect(byId.get("tiny-gpt2")?.memory).toEqual(loaded.memory);
    expect(byId.get("gpt2-vocab")?.memory).toBeUndefined();
  });

  it("retrieves one model by id", async () => {
    const model = await ctx().client.models.retrieve("tiny-llama");
    expect(model).toMatchObject({ id: "tiny-llama", object: "model", owned_by: "gpt3dev" });
  });

  it("answers an unknown id with a 404 model_not_found envelope", async () => {
    const error = await ctx()
      .client.models.retrieve("no-such-model")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    const response = await fetch(`${ctx().server.baseURL}/v1/models/no-such-model`);
    expect(response.status).toBe(404);
    expect({ error: await errorOf(response) }).toEqual({
      error: {
        message: "The model 'no-such-model' does not exist or you do not have access to it.",
        type: "invalid_request_error",
        param: "model",
        code: "model_not_found",
      },
    });
  });

  it("never treats a model id as a path", async () => {
    for (const id of ["..%2Ftiny-gpt2", "%2Fetc%2Fpasswd", "tiny-gpt2%00"]) {
      const response = await fetch(`${ctx().server.baseURL}/v1/models/${id}`);
      expect(response.status).toBe(404);
      expect((await errorOf(response)).code).toBe("model_not_found");
    }
  });
});

describeEachMode("GET /healthz", (ctx) => {
  it("answers 200 ok on /healthz and /health without loading a model", async () => {
    for (const path of ["/healthz", "/health"]) {
      const response = await fetch(`${ctx().server.baseURL}${path}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ok" });
    }
  });

  it("answers an unknown route with a 404 envelope", async () => {
    const response = await ctx().post("/v1/nothing", {});
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { message: "Invalid URL (POST /v1/nothing)", type: "invalid_request_error", param: null, code: null },
    });
  });
});

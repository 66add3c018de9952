import { expect, it } from "bun:test";
import { NotFoundError } from "openai";
import { describeEachMode, errorOf, jsonOf } from "./suite.ts";

const GENERATED = ["gpt2-vocab", "tiny-bert", "tiny-gpt2", "tiny-llama"];

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

import { describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { publicPaths } from "../../src/app.ts";
import { ApiKeys } from "../../src/http/api-keys.ts";
import { OPEN_PATHS } from "../../src/http/auth.ts";
import { errorOf } from "../e2e/suite.ts";
import { appFromFlags, get, post } from "./app.ts";

const COMPLETION = { model: "tiny-gpt2", prompt: "Hello", max_tokens: 1 };

describe("API keys", () => {
  const app = appFromFlags(["--api-key", "sk-one", "--api-key", "sk-two"]);

  it("refuses /v1/* without a key with OpenAI's 401 envelope", async () => {
    for (const request of [get("/v1/models"), post("/v1/completions", COMPLETION), post("/tokenize", { model: "tiny-gpt2", prompt: "x" })]) {
      const response = await app.handle(request);
      expect(response.status).toBe(401);
      const error = await errorOf(response);
      expect(error).toMatchObject({ type: "invalid_request_error", param: null, code: "invalid_api_key" });
      expect(error.message).toContain("didn't provide an API key");
    }
  });

  it("refuses a wrong key, a key of another length and a malformed Authorization header", async () => {
    const attempts: Array<Record<string, string>> = [
      { authorization: "Bearer sk-wrong" },
      { authorization: "Bearer sk-one-and-more" },
      { authorization: "Basic c2stb25lOg==" },
      { "x-api-key": "sk-on" },
    ];
    for (const headers of attempts) {
      const response = await app.handle(get("/v1/models", headers));
      expect(response.status).toBe(401);
      expect((await errorOf(response)).code).toBe("invalid_api_key");
    }
  });

  it("accepts every configured key as Bearer or as x-api-key", async () => {
    const accepted: Array<Record<string, string>> = [
      { authorization: "Bearer sk-one" },
      { authorization: "bearer sk-two" },
      { "x-api-key": "sk-two" },
    ];
    for (const headers of accepted) {
      expect((await app.handle(get("/v1/models", headers))).status).toBe(200);
    }
    const completion = await app.handle(post("/v1/completions", COMPLETION, { authorization: "Bearer sk-one" }));
    expect(completion.status).toBe(200);
  });

  it("lets a valid x-api-key through next to a non-Bearer Authorization header, and a valid Bearer next to a wrong x-api-key", async () => {
    for (const headers of [
      { authorization: "Basic dXNlcjpwYXNz", "x-api-key": "sk-one" },
      { authorization: "Bearer sk-wrong", "x-api-key": "sk-two" },
      { authorization: "Bearer sk-two", "x-api-key": "sk-wrong" },
    ]) {
      expect((await app.handle(get("/v1/models", headers))).status).toBe(200);
    }
    expect((await app.handle(get("/v1/models", { authorization: "Basic dXNlcjpwYXNz", "x-api-key": "sk-wrong" }))).status).toBe(401);
  });

  it("says at start-up exactly which routes need a key, and each of them does", async () => {
    const open = publicPaths(false);
    expect(open).toEqual(expect.arrayContaining([...OPEN_PATHS]));
    const line = new ApiKeys(["sk-one"]).describe(open);
    expect(line).toBe(`API keys required on every route except ${open.join(", ")} and CORS preflights (OPTIONS): 1 from --api-key/API_KEYS`);
    for (const path of ["/v1/models", "/tokenize", "/detokenize", "/v1/embeddings", "/metrics", "/openapi.json", "/", "/anything"]) {
      if (open.includes(path)) continue;
      expect({ path, status: (await app.handle(get(path))).status }).toEqual({ path, status: 401 });
    }
    for (const path of open) expect({ path, status: (await app.handle(get(path))).status }).not.toEqual({ path, status: 401 });
  });

  it("keeps /healthz and /health open", async () => {
    expect((await app.handle(get("/healthz"))).status).toBe(200);
    expect((await app.handle(get("/health"))).status).toBe(200);
  });

  it("asks for a key before telling whether a path exists", async () => {
    expect((await app.handle(get("/v1/no-such-route"))).status).toBe(401);
    expect((await app.handle(get("/v1/no-such-route", { "x-api-key": "sk-one" }))).status).toBe(404);
  });

  it("takes keys from API_KEYS when no flag is given", async () => {
    const fromEnv = appFromFlags([], { API_KEYS: "env-a,env-b" });
    expect((await fromEnv.handle(get("/v1/models", { "x-api-key": "env-b" }))).status).toBe(200);
    expect((await fromEnv.handle(get("/v1/models"))).status).toBe(401);
  });

  it("serves everyone when no key is configured", async () => {
    expect((await appFromFlags().handle(get("/v1/models"))).status).toBe(200);
  });
});

describe("API key file", () => {
  it("reads one key per line, skips comments, and picks up changes on reload", () => {
    const dir = mkdtempSync(join(tmpdir(), "gpt3dev-keys-"));
    try {
      const file = join(dir, "keys");
      writeFileSync(file, "# rotated monthly\nfile-key-1\n\n  file-key-2  \n");
      const keys = new ApiKeys([], file);
      expect(keys.accepts("file-key-1") && keys.accepts("file-key-2")).toBe(true);
      expect(keys.accepts("# rotated monthly")).toBe(false);
      writeFileSync(file, "file-key-3\n");
      keys.reload();
      expect(keys.accepts("file-key-1")).toBe(false);
      expect(keys.accepts("file-key-3")).toBe(true);
      rmSync(file);
      expect(() => keys.reload()).toThrow();
      expect(keys.accepts("file-key-3")).toBe(true);
      writeFileSync(file, "");
      keys.reload();
      expect(keys.required).toBe(true);
      expect(keys.accepts("")).toBe(false);
      expect(keys.describe()).not.toContain("file-key");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("CORS", () => {
  const ORIGIN = "https://app.example";
  const app = appFromFlags(["--api-key", "sk-one"], { CORS_ALLOW_ORIGINS: `${ORIGIN},https://other.example` });
  const preflight = (origin: string) =>
    new Request("http://localhost/v1/chat/completions", {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-stainless-os",
      },
    });

  it("answers a preflight to a key-protected route without a key", async () => {
    const response = await app.handle(preflight(ORIGIN));
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("access-control-allow-headers")).toContain("authorization");
  });

  it("does not allow an origin that is not listed", async () => {
    const response = await app.handle(preflight("https://evil.example"));
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("puts CORS headers on answers and on 401 refusals so the browser can read them", async () => {
    const ok = await app.handle(get("/v1/models", { origin: ORIGIN, authorization: "Bearer sk-one" }));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const refused = await app.handle(get("/v1/models", { origin: ORIGIN }));
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe(ORIGIN);
  });

  it("sends no CORS header at all when no origin is configured", async () => {
    const plain = appFromFlags();
    const response = await plain.handle(get("/v1/models", { origin: ORIGIN }));
    expect([...response.headers.keys()].filter((h) => h.startsWith("access-control-"))).toEqual([]);
    const options = await plain.handle(preflight(ORIGIN));
    expect(options.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows any origin with '*'", async () => {
    const any = appFromFlags(["--cors-allow-origins", "*"]);
    const response = await any.handle(preflight("https://whoever.example"));
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
  });
});

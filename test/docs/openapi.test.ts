import { describe, expect, it } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { ROUTE_DOCS } from "../../src/docs/route-docs.ts";
import { appFromFlags, get, post } from "../http/app.ts";
import { app, document, validAgainst, type Json } from "./served-document.ts";

const openApiPath = (path: string) => path.replaceAll(/:([^/]+)/g, "{$1}");
const documentedRoutes = app.routes.filter((r) => r.method !== "OPTIONS" && !r.hooks?.detail?.hide);

describe("GET /openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe("3.1.0");
  });

  it("documents every route the app serves, with its request schema, and nothing else", () => {
    const expected = documentedRoutes.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`).sort();
    const listed = Object.entries(document.paths as Json).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(listed.sort()).toEqual(expected);
    for (const route of documentedRoutes) {
      const operation = document.paths[openApiPath(route.path)][route.method.toLowerCase()] as Json;
      expect(operation.responses["200"]).toBeDefined();
      if (route.hooks?.body) {
        const type = ROUTE_DOCS[`${route.method} ${route.path}`]?.form ? "multipart/form-data" : "application/json";
        expect(operation.requestBody.content[type].schema).toEqual(JSON.parse(JSON.stringify(route.hooks.body)));
      }
    }
    expect(document.paths["/v1/models/{id}"].get.parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string" } }]);
  });

  it("has an entry for every route in its table, with summary, tag and OpenAI's error envelope", () => {
    for (const [key, doc] of Object.entries(ROUTE_DOCS)) {
      const [method, path] = key.split(" ") as [string, string];
      const operation = document.paths[openApiPath(path)]?.[method.toLowerCase()] as Json | undefined;
      expect(operation === undefined ? `${key} missing` : key).toBe(key);
      expect(operation!.summary).toBe(doc.summary);
      expect(operation!.tags).toEqual([doc.tag]);
      if (doc.openaiErrors) expect(operation!.responses["400"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/ErrorResponse" });
    }
  });

  it("describes the answers the server really gives", async () => {
    const answers: Array<[string, string, Request]> = [
      ["/v1/models", "get", get("/v1/models")],
      ["/v1/models/{id}", "get", get("/v1/models/tiny-gpt2")],
      ["/v1/completions", "post", post("/v1/completions", { model: "tiny-gpt2", prompt: "Hi", max_tokens: 3 })],
      ["/v1/chat/completions", "post", post("/v1/chat/completions", { model: "tiny-llama", messages: [{ role: "user", content: "Hi" }], max_tokens: 3 })],
      ["/v1/embeddings", "post", post("/v1/embeddings", { model: "tiny-bert", input: ["a", "b"] })],
      ["/v1/moderations", "post", post("/v1/moderations", { model: "tiny-moderation", input: ["a", "b"] })],
      ["/v1/models/{id}/load", "post", post("/v1/models/tiny-gpt2/load", {})],
      ["/v1/models/{id}/unload", "post", post("/v1/models/tiny-gpt2/unload", {})],
      ["/tokenize", "post", post("/tokenize", { model: "tiny-gpt2", prompt: "Hi there" })],
      ["/detokenize", "post", post("/detokenize", { model: "tiny-gpt2", tokens: [1, 2] })],
      ["/healthz", "get", get("/healthz")],
    ];
    for (const [path, method, request] of answers) {
      const response = await app.handle(request);
      expect(`${path} ${response.status}`).toBe(`${path} 200`);
      const schema = document.paths[path][method].responses["200"].content["application/json"].schema as Json;
      expect(`${path}: ${validAgainst(schema, await response.json())}`).toBe(`${path}: valid`);
    }
    const refused = await app.handle(post("/v1/completions", { model: "tiny-gpt2", prompt: "Hi", bogus: 1 }));
    expect(refused.status).toBe(400);
    expect(validAgainst(document.paths["/v1/completions"].post.responses["400"].content["application/json"].schema, await refused.json())).toBe("valid");
    // A schema that would accept anything proves nothing: a wrong answer must fail.
    expect(validAgainst(document.paths["/v1/models"].get.responses["200"].content["application/json"].schema, { object: "list" })).not.toBe("valid");
  });

  it("needs the key when keys are set, while the /docs page and its assets open without one", async () => {
    const closed = appFromFlags(["--api-key", "k"]);
    expect((await closed.handle(get("/openapi.json"))).status).toBe(401);
    expect((await closed.handle(get("/openapi.json", { authorization: "Bearer k" }))).status).toBe(200);
    const page = await closed.handle(get("/docs"));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<script src="/docs/swagger-ui-bundle.js">');
    // Served from inside the server: no CDN, nothing fetched from elsewhere.
    expect(html).not.toMatch(/(src|href)="https?:/);
    const bundle = await closed.handle(get("/docs/swagger-ui-bundle.js"));
    expect(bundle.status).toBe(200);
    expect(await bundle.text()).toBe(await Bun.file(require.resolve("swagger-ui-dist/swagger-ui-bundle.js")).text());
    expect((await closed.handle(get("/docs/swagger-ui.css"))).headers.get("content-type")).toBe("text/css; charset=utf-8");
  });
});

import { describe, expect, it } from "bun:test";
import { parseTypedSse } from "../e2e/typed-sse.ts";
import { post } from "../http/app.ts";
import { app, document, validAgainst, type Json } from "./served-document.ts";

const RESPONSE = { model: "tiny-llama", instructions: "Be terse.", input: "Hi", max_output_tokens: 3 };
const MESSAGE = { model: "tiny-llama", system: "Be terse.", messages: [{ role: "user", content: "Hi" }], max_tokens: 3 };

describe("GET /openapi.json for Responses and Messages", () => {
  it("describes the answers, stream events and errors these routes really give", async () => {
    const cases: Array<[string, unknown]> = [
      ["/v1/responses", RESPONSE],
      ["/v1/messages", MESSAGE],
      ["/v1/messages/count_tokens", { model: MESSAGE.model, system: MESSAGE.system, messages: MESSAGE.messages }],
    ];
    for (const [path, body] of cases) {
      const operation = document.paths[path].post as Json;
      const response = await app.handle(post(path, body));
      expect(`${path} ${response.status}`).toBe(`${path} 200`);
      expect(`${path}: ${validAgainst(operation.responses["200"].content["application/json"].schema, await response.json())}`).toBe(`${path}: valid`);
    }
    for (const [path, body] of cases.slice(0, 2)) {
      const schema = document.paths[path].post.responses["200"].content["text/event-stream"].schema as Json;
      const events = parseTypedSse(await (await app.handle(post(path, { ...(body as Json), stream: true }))).text());
      for (const { data } of events) expect(`${path} ${data.type}: ${validAgainst(schema, data)}`).toBe(`${path} ${data.type}: valid`);
      // A schema that would accept anything proves nothing: a wrong event must fail.
      expect(validAgainst(schema, { type: "response.output_text.delta", delta: 1 })).not.toBe("valid");
    }
    const refused = await app.handle(post("/v1/messages", { ...MESSAGE, max_tokens: undefined }));
    expect(refused.status).toBe(400);
    const errorSchema = document.paths["/v1/messages"].post.responses["400"].content["application/json"].schema as Json;
    expect(errorSchema).toEqual({ $ref: "#/components/schemas/AnthropicErrorResponse" });
    expect(validAgainst(errorSchema, await refused.json())).toBe("valid");
    expect(validAgainst(errorSchema, { error: { message: "x", type: "invalid_request_error", param: null, code: null } })).not.toBe("valid");
  });
});

import { describe, expect, it } from "bun:test";
import { Kind, TransformKind, type TSchema } from "@sinclair/typebox";
import { errorOf } from "../e2e/suite.ts";
import { appFromFlags, post } from "./app.ts";

const app = appFromFlags();

/** A body each POST route accepts; every test varies one field of it. */
const VALID: Record<string, Record<string, unknown>> = {
  "/v1/completions": { model: "tiny-gpt2", prompt: "Hello", max_tokens: 1 },
  "/v1/chat/completions": { model: "tiny-llama", messages: [{ role: "user", content: "hi" }], max_tokens: 1 },
  "/v1/embeddings": { model: "tiny-bert", input: "hello" },
  "/v1/moderations": { model: "tiny-moderation", input: "hello" },
  "/tokenize": { model: "tiny-gpt2", prompt: "Hello" },
  "/detokenize": { model: "tiny-gpt2", tokens: [15496] },
  "/v1/responses": { model: "tiny-llama", input: "hi", max_output_tokens: 1 },
  "/v1/messages": { model: "tiny-llama", max_tokens: 1, messages: [{ role: "user", content: "hi" }] },
  "/v1/messages/count_tokens": { model: "tiny-llama", messages: [{ role: "user", content: "hi" }] },
  "/v1/audio/speech": { model: "tiny-vits", input: "hi", voice: "default" },
  // Multipart forms (the file cannot travel as JSON): listed so that every POST route is here; they have no integer field.
  "/v1/audio/transcriptions": { model: "tiny-whisper" },
  "/v1/audio/translations": { model: "tiny-whisper" },
};

/** The field an error names: OpenAI's `param`; Anthropic's envelope has none, its message names it first. */
async function refusedField(response: Response): Promise<{ param: string | null; message: string }> {
  const body = (await response.json()) as { type?: string; error: { message: string; param?: string | null } };
  if (body.type === "error") {
    const named = /^([\w.[\]]+): /.exec(body.error.message) ?? /^Invalid value for '([\w.[\]]+)'/.exec(body.error.message);
    return { param: named?.[1] ?? null, message: body.error.message };
  }
  return { param: body.error.param ?? null, message: body.error.message };
}

const bodyOf = (route: { hooks: unknown }) => (route.hooks as { body?: TSchema }).body;
/** POST routes that take a body (POST /v1/models/{id}/load and /unload take none). */
const postRoutes = () => app.routes.filter((r) => r.method === "POST" && bodyOf(r) !== undefined);

/** Every schema node under `schema` with its path (`a.b[]`), unions and arrays included. */
function* nodes(schema: TSchema, path = ""): Generator<[string, TSchema]> {
  yield [path, schema];
  for (const option of (schema.anyOf as TSchema[] | undefined) ?? []) yield* nodes(option, path);
  if (schema.items) yield* nodes(schema.items as TSchema, `${path}[]`);
  for (const [key, value] of Object.entries((schema.properties as Record<string, TSchema> | undefined) ?? {})) {
    yield* nodes(value, path ? `${path}.${key}` : key);
  }
}

/** Top-level fields whose schema takes an integer (possibly among other types, e.g. null). */
function integerFields(schema: TSchema): string[] {
  return [...nodes(schema)].filter(([path, node]) => !path.includes(".") && !path.includes("[") && node[Kind] === "Integer").map(([p]) => p);
}

describe("integer fields", () => {
  it("every POST route's body schema takes integers strictly (no numeric strings, no transforms)", () => {
    expect(postRoutes().map((r) => r.path).sort()).toEqual(Object.keys(VALID).sort());
    for (const route of postRoutes()) {
      const loose = [...nodes(bodyOf(route)!)].filter(
        ([, node]) => (node as unknown as Record<symbol, unknown>)[TransformKind] !== undefined || (node[Kind] === "String" && ["integer", "numeric"].includes(node.format as string)),
      );
      // Elysia's t.Integer takes "16" and "0x3"; src/openai/common.ts exports the strict Integer to use instead.
      expect({ route: route.path, loose: loose.map(([path]) => path) }).toEqual({ route: route.path, loose: [] });
    }
  });

  it("refuses a string in any integer field of any route with 400 naming the field, and never advertises strings", async () => {
    let checked = 0;
    for (const route of postRoutes()) {
      for (const field of integerFields(bodyOf(route)!)) {
        for (const value of ["3", "0x3", "1e1", " 2"]) {
          const response = await app.handle(post(route.path, { ...VALID[route.path], [field]: value }));
          const error = await refusedField(response);
          expect({ route: route.path, field, value, status: response.status, param: error.param }).toEqual({
            route: route.path, field, value, status: 400, param: field,
          });
          expect(error.message).not.toMatch(/string/i);
          expect(error.message).toContain(`'${field}'`);
          expect(error.message).toContain(JSON.stringify(value));
          checked++;
        }
      }
    }
    // At least max_tokens, n, seed, best_of, logprobs; max_tokens, max_completion_tokens, n, seed, top_logprobs;
    // dimensions; max_output_tokens, top_logprobs; max_tokens, top_k.
    expect(checked).toBeGreaterThanOrEqual(4 * 15);
  });

  it("refuses strings inside integer arrays, naming the element", async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ["/detokenize", { model: "tiny-gpt2", tokens: [15496, "3"] }, "tokens[1]"],
      ["/v1/embeddings", { model: "tiny-bert", input: [[101, "7", 102]] }, "input"],
    ];
    for (const [path, body, param] of cases) {
      const response = await app.handle(post(path, body));
      const error = await errorOf(response);
      expect({ path, status: response.status, param: error.param }).toEqual({ path, status: 400, param });
      expect(error.message).not.toMatch(/a string or an integer/);
    }
  });
});

describe("request bodies", () => {
  const body = JSON.stringify({ model: "tiny-gpt2", prompt: "Hello", max_tokens: 2, temperature: 0 });
  const send = (contentType: string | undefined, payload = body) =>
    app.handle(
      new Request("http://localhost/v1/completions", {
        method: "POST",
        headers: contentType === undefined ? {} : { "content-type": contentType },
        body: payload,
      }),
    );

  it("reads a JSON body whatever its content type says, as llama.cpp and vLLM do", async () => {
    const expected = (await (await send("application/json")).json()) as { choices: { text: string }[] };
    for (const type of ["application/x-www-form-urlencoded", "text/plain", "text/plain;charset=UTF-8", undefined]) {
      const response = await send(type);
      expect({ type, status: response.status }).toEqual({ type, status: 200 });
      const got = (await response.json()) as { choices: { text: string }[] };
      expect(got.choices.map((c) => c.text)).toEqual(expected.choices.map((c) => c.text));
    }
  });

  it("answers a body that is not JSON, or empty, with 400 saying to send JSON", async () => {
    for (const [type, payload, wording] of [
      ["application/x-www-form-urlencoded", "model=tiny-gpt2&prompt=hi", /could not parse the JSON body/],
      ["text/plain", "", /request body is empty: send a JSON object \(content-type: application\/json\)/],
      ["application/json", "[1]", /must be a JSON object/],
    ] as const) {
      const response = await send(type, payload);
      expect({ type, status: response.status }).toEqual({ type, status: 400 });
      expect((await errorOf(response)).message).toMatch(wording);
    }
  });
});

describe("what the model is fed", () => {
  it("counts the start-of-text token an empty prompt is fed, and generates as from that token", async () => {
    const complete = async (prompt: unknown) => {
      const response = await app.handle(post("/v1/completions", { model: "tiny-gpt2", prompt, max_tokens: 4, temperature: 0 }));
      expect(response.status).toBe(200);
      return (await response.json()) as { choices: { text: string }[]; usage: { prompt_tokens: number; total_tokens: number } };
    };
    const empty = await complete("");
    const eos = await complete([656]);
    expect(empty.usage).toEqual(eos.usage);
    expect(empty.usage.prompt_tokens).toBe(1);
    expect(empty.choices.map((c) => c.text)).toEqual(eos.choices.map((c) => c.text));
    expect((await complete(["", "Hello"])).usage.prompt_tokens).toBe(1 + (await complete("Hello")).usage.prompt_tokens);
  });
});

describe("error wording", () => {
  const refusal = async (path: string, body: unknown) => {
    const response = await app.handle(post(path, body));
    return { status: response.status, ...(await errorOf(response)) };
  };

  it("names the request field an engine argument came from, as the request gave it", async () => {
    const cases: Array<[string, unknown, string]> = [
      ["/v1/completions", { model: "tiny-gpt2", prompt: [5, 700] }, "prompt"],
      ["/v1/completions", { model: "tiny-gpt2", prompt: [[5], [6, 700]] }, "prompt[1]"],
      ["/v1/embeddings", { model: "tiny-bert", input: [5, 400] }, "input"],
      ["/v1/embeddings", { model: "tiny-bert", input: [[5], [400]] }, "input[1]"],
      ["/detokenize", { model: "tiny-gpt2", tokens: [5, 700] }, "tokens"],
    ];
    for (const [path, body, param] of cases) {
      const error = await refusal(path, body);
      expect({ path, param: error.param, status: error.status }).toEqual({ path, param, status: 400 });
      expect(error.message).toStartWith(`Invalid value for '${param}': `);
      expect(error.message).not.toMatch(/\b(prompts|inputs)\b/);
    }
  });

  it("says which route cannot use a model of the wrong kind, and what to choose instead", async () => {
    const cases: Array<[string, unknown, string]> = [
      ["/tokenize", { model: "tiny-bert", prompt: "x" }, "The model 'tiny-bert' is an embeddings model and cannot be used with /tokenize: choose a text-generation model"],
      ["/v1/completions", { model: "tiny-bert", prompt: "x" }, "The model 'tiny-bert' is an embeddings model and cannot be used with /v1/completions: choose a text-generation model"],
      ["/v1/chat/completions", { model: "tiny-bert", messages: [{ role: "user", content: "x" }] }, "is an embeddings model and cannot be used with /v1/chat/completions:"],
    ];
    for (const [path, body, wording] of cases) {
      const error = await refusal(path, body);
      expect({ path, status: error.status, param: error.param }).toEqual({ path, status: 400, param: "model" });
      expect(error.message).toContain(wording);
    }
  });

  it("says an empty messages list needs at least one message", async () => {
    const error = await refusal("/v1/chat/completions", { model: "tiny-llama", messages: [] });
    expect(error).toMatchObject({ status: 400, param: "messages", message: "Invalid value for 'messages': expected at least 1 item, got 0." });
  });
});

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import OpenAI, { BadRequestError } from "openai";
import { loadTokenizer } from "../../src/runtime/model-tokenizer.ts";
import { maxDiff, norm } from "../formats/vector-compare.ts";
import { BINARY_PATH, REPO_ROOT, serverModes, startServer, type RunningServer, type ServerMode } from "./harness.ts";
import { describeEachMode, errorOf, jsonOf } from "./suite.ts";

const TEXTS = ["hello world", "The quick brown fox", "the the the"];
const WIDTH = 32;
const VOCAB_SIZE = 400;

/** The tiny-bert folder the server of this mode reads (the binary has its own copy beside it). */
const tinyBertDir = (mode: ServerMode) => join(mode === "binary" ? dirname(BINARY_PATH) : REPO_ROOT, "models", "tiny-bert");

interface FloatBody {
  object: string;
  model: string;
  data: Array<{ object: string; index: number; embedding: number[] }>;
  usage: { prompt_tokens: number; total_tokens: number };
}
interface Base64Body extends Omit<FloatBody, "data"> {
  data: Array<{ object: string; index: number; embedding: string }>;
}

/** What OpenAI's base64 means: little-endian float32 bytes. Decoded with a DataView so the byte order is explicit. */
function decodeBase64(text: string): number[] {
  const bytes = Buffer.from(text, "base64");
  expect(bytes.length % 4).toBe(0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
}


describeEachMode("POST /v1/embeddings", (ctx, mode) => {
  // Exact token counts come from the model's own tokenizer: the fixture vocabulary may grow.
  let encode: (text: string) => number[];
  let HELLO_WORLD_IDS: number[];
  beforeAll(async () => {
    const tokenizer = await loadTokenizer(tinyBertDir(mode));
    encode = (text) => tokenizer.encode(text);
    HELLO_WORLD_IDS = encode("hello world");
    expect(HELLO_WORLD_IDS.length).toBeGreaterThan(3);
  });
  const tokens = (texts: string[]) => texts.reduce((sum, text) => sum + encode(text).length, 0);

  it("embeds text in OpenAI's shape with unit vectors and the model's token count", async () => {
    const response = await ctx().client.embeddings.create({ model: "tiny-bert", input: "hello world", encoding_format: "float" });
    expect(response.object).toBe("list");
    expect(response.model).toBe("tiny-bert");
    const count = HELLO_WORLD_IDS.length;
    expect(response.usage).toEqual({ prompt_tokens: count, total_tokens: count });
    expect(response.data).toHaveLength(1);
    const [item] = response.data;
    expect(item!.object).toBe("embedding");
    expect(item!.index).toBe(0);
    expect(item!.embedding).toHaveLength(WIDTH);
    expect(Math.abs(norm(item!.embedding) - 1)).toBeLessThan(1e-6);
    expect(Object.keys(item!).sort()).toEqual(["embedding", "index", "object"]);
  });

  it("gives the same vectors for float, base64 and the SDK's default (base64 on the wire, decoded)", async () => {
    const { client } = ctx();
    const float = await client.embeddings.create({ model: "tiny-bert", input: TEXTS, encoding_format: "float" });
    const byDefault = await client.embeddings.create({ model: "tiny-bert", input: TEXTS });
    const base64 = await client.embeddings.create({ model: "tiny-bert", input: TEXTS, encoding_format: "base64" });
    expect(float.data.map((d) => d.index)).toEqual([0, 1, 2]);
    expect(byDefault.data.map((d) => d.embedding)).toEqual(float.data.map((d) => d.embedding));
    for (const [i, item] of base64.data.entries()) {
      expect(typeof item.embedding).toBe("string");
      expect(decodeBase64(item.embedding)).toEqual(float.data[i]!.embedding);
    }
    expect(byDefault.usage).toEqual(float.usage);
    expect(float.usage.prompt_tokens).toBe(tokens(TEXTS));
  });

  it("answers raw base64 requests with a string of little-endian float32 bytes", async () => {
    const float = await jsonOf<FloatBody>(await ctx().post("/v1/embeddings", { model: "tiny-bert", input: "hello world" }));
    const response = await ctx().post("/v1/embeddings", { model: "tiny-bert", input: "hello world", encoding_format: "base64" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("application/json");
    const body = await jsonOf<Base64Body>(response);
    const text = body.data[0]!.embedding;
    expect(text).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(text.length).toBe(Math.ceil((WIDTH * 4) / 3) * 4);
    expect(decodeBase64(text)).toEqual(float.data[0]!.embedding);
    expect(body.usage).toEqual(float.usage);
  });

  it("embeds a batch as each input alone, and token ids as the same text", async () => {
    const batch = await ctx().client.embeddings.create({ model: "tiny-bert", input: TEXTS, encoding_format: "float" });
    for (const [i, text] of TEXTS.entries()) {
      const single = await ctx().client.embeddings.create({ model: "tiny-bert", input: text, encoding_format: "float" });
      expect(maxDiff(single.data[0]!.embedding, batch.data[i]!.embedding)).toBeLessThan(1e-5);
    }
    const ids = await ctx().client.embeddings.create({ model: "tiny-bert", input: HELLO_WORLD_IDS, encoding_format: "float" });
    expect(ids.usage.prompt_tokens).toBe(HELLO_WORLD_IDS.length);
    expect(maxDiff(ids.data[0]!.embedding, batch.data[0]!.embedding)).toBeLessThan(1e-5);
    const theIds = encode("the the the");
    const idLists = await ctx().client.embeddings.create({ model: "tiny-bert", input: [HELLO_WORLD_IDS, theIds] });
    expect(idLists.data.map((d) => d.index)).toEqual([0, 1]);
    const count = HELLO_WORLD_IDS.length + theIds.length;
    expect(idLists.usage).toEqual({ prompt_tokens: count, total_tokens: count });
    expect(maxDiff(idLists.data[1]!.embedding, batch.data[2]!.embedding)).toBeLessThan(1e-5);
  });

  it("accepts user and explicit nulls", async () => {
    const response = await ctx().post("/v1/embeddings", {
      model: "tiny-bert",
      input: ["x"],
      user: "someone",
      encoding_format: null,
      dimensions: null,
    });
    expect(response.status).toBe(200);
    expect((await jsonOf<FloatBody>(response)).data[0]!.embedding).toHaveLength(WIDTH);
  });

  it("names the field at fault in every refusal", async () => {
    const cases: Array<[unknown, number, string | null, string | null]> = [
      [{ input: "x" }, 400, "model", "missing_required_parameter"],
      [{ model: "tiny-bert" }, 400, "input", "missing_required_parameter"],
      [{ model: "tiny-bert", input: "" }, 400, "input", "invalid_value"],
      [{ model: "tiny-bert", input: [] }, 400, "input", "invalid_value"],
      [{ model: "tiny-bert", input: ["a", ""] }, 400, "input", "invalid_value"],
      [{ model: "tiny-bert", input: [[1, 2], []] }, 400, "input", "invalid_value"],
      [{ model: "tiny-bert", input: 5 }, 400, "input", "invalid_value"],
      [{ model: "tiny-bert", input: "x", encoding_format: "foo" }, 400, "encoding_format", "invalid_value"],
      [{ model: "tiny-bert", input: "x", dimensions: 0 }, 400, "dimensions", "invalid_value"],
      [{ model: "tiny-bert", input: "x", dimensions: 8 }, 400, "dimensions", null],
      [{ model: "tiny-bert", input: "x", normalize: true }, 400, "normalize", "unknown_parameter"],
      [{ model: "tiny-bert", input: [1, VOCAB_SIZE, 2] }, 400, "input", null],
      [{ model: "tiny-gpt2", input: "x" }, 400, "model", "model_not_supported"],
      [{ model: "no-such-model", input: "x" }, 404, "model", "model_not_found"],
    ];
    for (const [body, status, param, code] of cases) {
      const response = await ctx().post("/v1/embeddings", body);
      const error = await errorOf(response);
      expect({ body, status: response.status, param: error.param, code: error.code }).toEqual({ body, status, param, code });
      expect(error.type).toBe("invalid_request_error");
    }
    const dims = await errorOf(await ctx().post("/v1/embeddings", { model: "tiny-bert", input: "x", dimensions: 8 }));
    expect(dims.message).toBe("Invalid value for 'dimensions': the model 'tiny-bert' does not support specifying dimensions.");
    const kind = await errorOf(await ctx().post("/v1/embeddings", { model: "tiny-gpt2", input: "x" }));
    expect(kind.message).toBe(
      "The model 'tiny-gpt2' is a text-generation model and cannot be used with /v1/embeddings: " +
        "choose an embeddings model (GET /v1/models lists the models).",
    );
  });

  it("refuses an input longer than the model's 128 positions with OpenAI's wording", async () => {
    expect(encode("the ".repeat(127))).toHaveLength(129);
    const response = await ctx().post("/v1/embeddings", { model: "tiny-bert", input: ["hello", "the ".repeat(127)] });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.param).toBe("input");
    expect(error.code).toBe("context_length_exceeded");
    expect(error.message).toBe(
      "This model's maximum context length is 128 tokens, however you requested 129 tokens (129 in your prompt; " +
        "0 for the completion). Please reduce your prompt; or completion length.",
    );
    const fits = await ctx().client.embeddings.create({ model: "tiny-bert", input: "the ".repeat(126) });
    expect(fits.usage.prompt_tokens).toBe(128);
  });

  it("surfaces a text model as the SDK's BadRequestError on 'model'", async () => {
    const error = await ctx()
      .client.embeddings.create({ model: "tiny-llama", input: "x" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).param).toBe("model");
  });
});

// `dimensions` needs a registry entry that declares the model Matryoshka-trained.
for (const mode of serverModes()) {
  describe(`POST /v1/embeddings with dimensions [${mode}]`, () => {
    let server: RunningServer | undefined;
    let client: OpenAI;
    let dir: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "gpt3dev-embeddings-e2e-"));
      const registry = join(dir, "registry.yaml");
      const model = tinyBertDir(mode);
      writeFileSync(registry, `models:\n  - name: bert-mrl\n    path: ${model}\n    matryoshka_dimensions: [32, 16, 8]\n`);
      server = await startServer({ mode, args: ["--registry", registry] });
      client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: "unused", maxRetries: 0 });
    });
    afterAll(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it("shortens vectors to the requested width and renormalises them", async () => {
      const full = await client.embeddings.create({ model: "bert-mrl", input: TEXTS, encoding_format: "float" });
      for (const dimensions of [8, 16]) {
        for (const encoding_format of ["float", "base64"] as const) {
          const response = await fetch(`${server!.baseURL}/v1/embeddings`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: "bert-mrl", input: TEXTS, dimensions, encoding_format }),
          });
          expect(response.status).toBe(200);
          const body = await jsonOf<FloatBody | Base64Body>(response);
          for (const [i, item] of body.data.entries()) {
            const vector = typeof item.embedding === "string" ? decodeBase64(item.embedding) : item.embedding;
            expect(vector).toHaveLength(dimensions);
            expect(Math.abs(norm(vector) - 1)).toBeLessThan(1e-6);
            const head = full.data[i]!.embedding.slice(0, dimensions);
            expect(maxDiff(vector, head.map((x) => x / norm(head)))).toBeLessThan(1e-6);
          }
        }
      }
      const viaSdk = await client.embeddings.create({ model: "bert-mrl", input: "hello world", dimensions: 8 });
      expect(viaSdk.data[0]!.embedding).toHaveLength(8);
    });

    it("refuses widths the registry does not list or the model cannot give", async () => {
      for (const dimensions of [12, 64]) {
        const response = await fetch(`${server!.baseURL}/v1/embeddings`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "bert-mrl", input: "x", dimensions }),
        });
        expect(response.status).toBe(400);
        const error = await errorOf(response);
        expect(error.param).toBe("dimensions");
        expect(error.message).toBe(`Invalid value for 'dimensions': the model 'bert-mrl' accepts one of 32, 16, 8, got ${dimensions}.`);
      }
    });
  });
}

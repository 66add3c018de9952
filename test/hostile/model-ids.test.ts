import { describe, expect, it } from "bun:test";
import { join } from "node:path";
import { errorOf } from "../e2e/suite.ts";
import { appFromFlags, get, MODELS_DIR, post } from "../http/app.ts";

/** Ids that would reach a real model folder if an id were ever joined onto a path. */
const HOSTILE_IDS = [
  "../tiny-gpt2",
  "../models/tiny-gpt2",
  "./tiny-gpt2",
  "tiny-gpt2/",
  "tiny-gpt2/../tiny-gpt2",
  "tiny-gpt2\u0000",
  "\u0000",
  "tiny-gpt2\u0000../../etc/passwd",
  "/etc/passwd",
  "../../../../../../etc/passwd",
  join(MODELS_DIR, "tiny-gpt2"),
  join(MODELS_DIR, "tiny-bert"),
  "..\\tiny-gpt2",
  "%2e%2e%2ftiny-gpt2",
  "TINY-GPT2",
  " tiny-gpt2",
  "file:///etc/passwd",
];

const app = appFromFlags();

describe("model ids never reach the filesystem", () => {
  const routes: Array<[string, (model: string) => object]> = [
    ["/v1/completions", (model) => ({ model, prompt: "x", max_tokens: 1 })],
    ["/v1/chat/completions", (model) => ({ model, messages: [{ role: "user", content: "x" }], max_tokens: 1 })],
    ["/v1/embeddings", (model) => ({ model, input: "x" })],
    ["/tokenize", (model) => ({ model, prompt: "x" })],
  ];
  for (const [path, body] of routes) {
    it(`answers 404 model_not_found on ${path} for traversal, absolute, NUL and unknown ids`, async () => {
      for (const id of HOSTILE_IDS) {
        const response = await app.handle(post(path, body(id)));
        expect({ id, status: response.status }).toEqual({ id, status: 404 });
        expect(await errorOf(response)).toMatchObject({ param: "model", code: "model_not_found" });
      }
    });
  }

  it("answers 404 on GET /v1/models/{id} for the same ids, encoded in the path", async () => {
    for (const id of HOSTILE_IDS) {
      const response = await app.handle(get(`/v1/models/${encodeURIComponent(id)}`));
      expect({ id, status: response.status }).toEqual({ id, status: 404 });
      await errorOf(response);
    }
  });
});

import { describe, expect, it } from "bun:test";
import { errorOf, parseSse } from "../e2e/suite.ts";
import { appFromFlags, post } from "./app.ts";

const app = appFromFlags([
  "--max-tokens-cap", "32",
  "--max-n", "2",
  "--max-prompts", "3",
  "--max-prompt-chars", "100",
  "--max-embedding-inputs", "2",
  "--max-stop-sequences", "2",
  "--max-stop-chars", "5",
  "--max-body-bytes", "4096",
]);

async function refusal(path: string, body: unknown) {
  const response = await app.handle(post(path, body));
  const error = await errorOf(response);
  return { status: response.status, param: error.param, code: error.code, message: error.message };
}

const GPT = { model: "tiny-gpt2", max_tokens: 1 };
const CHAT = { model: "tiny-llama", messages: [{ role: "user", content: "hi" }], max_tokens: 1 };
const EMBED = { model: "tiny-bert" };

describe("request limits", () => {
  it("refuses each exceeded limit with 400, the field as param, and the flag in the message", async () => {
    const cases: Array<[string, unknown, string, string]> = [
      ["/v1/completions", { ...GPT, prompt: "x", max_tokens: 33 }, "max_tokens", "--max-tokens-cap"],
      ["/v1/completions", { ...GPT, prompt: "x", n: 3 }, "n", "--max-n"],
      ["/v1/completions", { ...GPT, prompt: "x", n: 3, best_of: 3 }, "n", "--max-n"],
      ["/v1/completions", { ...GPT, prompt: ["a", "b", "c", "d"] }, "prompt", "--max-prompts"],
      ["/v1/completions", { ...GPT, prompt: "x".repeat(101) }, "prompt", "--max-prompt-chars"],
      ["/v1/completions", { ...GPT, prompt: ["ok", "x".repeat(101)] }, "prompt[1]", "--max-prompt-chars"],
      ["/v1/completions", { ...GPT, prompt: "x", stop: ["a", "b", "c"] }, "stop", "--max-stop-sequences"],
      ["/v1/completions", { ...GPT, prompt: "x", stop: ["a", "toolong"] }, "stop[1]", "--max-stop-chars"],
      ["/v1/chat/completions", { ...CHAT, max_completion_tokens: 40 }, "max_completion_tokens", "--max-tokens-cap"],
      ["/v1/chat/completions", { ...CHAT, n: 5 }, "n", "--max-n"],
      ["/v1/chat/completions", { ...CHAT, stop: "toolong" }, "stop", "--max-stop-chars"],
      [
        "/v1/chat/completions",
        { ...CHAT, messages: [{ role: "system", content: "x".repeat(60) }, { role: "user", content: [{ type: "text", text: "y".repeat(41) }] }] },
        "messages",
        "--max-prompt-chars",
      ],
      ["/v1/embeddings", { ...EMBED, input: ["a", "b", "c"] }, "input", "--max-embedding-inputs"],
      ["/v1/embeddings", { ...EMBED, input: "x".repeat(101) }, "input", "--max-prompt-chars"],
      ["/tokenize", { model: "tiny-gpt2", prompt: "x".repeat(101) }, "prompt", "--max-prompt-chars"],
    ];
    for (const [path, body, param, flag] of cases) {
      const error = await refusal(path, body);
      expect({ path, status: error.status, param: error.param, code: error.code }).toEqual({ path, status: 400, param, code: "limit_exceeded" });
      expect(error.message).toContain(flag);
    }
  });

  it("serves requests right at every limit", async () => {
    const ok = [
      ["/v1/completions", { ...GPT, prompt: ["a", "b", "x".repeat(100)], n: 2, max_tokens: 2, stop: ["a", "bcdef"] }],
      ["/v1/chat/completions", { ...CHAT, max_completion_tokens: 2, n: 2 }],
      ["/v1/embeddings", { ...EMBED, input: ["a", "b"] }],
    ] as const;
    for (const [path, body] of ok) expect((await app.handle(post(path, body))).status).toBe(200);
  });

  it("answers a body over --max-body-bytes with 413 in OpenAI's envelope", async () => {
    const response = await app.handle(post("/v1/completions", { ...GPT, prompt: "x".repeat(5000) }));
    expect(response.status).toBe(413);
    const error = await errorOf(response);
    expect(error).toMatchObject({ type: "invalid_request_error", code: "request_too_large" });
    expect(error.message).toContain("--max-body-bytes");
  });

  it("stops a generation that outlasts --request-timeout-seconds and says so, streamed or not", async () => {
    const slow = appFromFlags(["--request-timeout-seconds", "1", "--max-prompts", "16"]);
    // The tiny model's whole context for 16 prompts × 16 choices: several seconds of work.
    const body = { model: "tiny-gpt2", prompt: Array.from({ length: 16 }, (_, i) => `prompt ${i}`), max_tokens: 120, n: 16 };
    const started = performance.now();
    const response = await slow.handle(post("/v1/completions", body));
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: "request_timeout", param: "max_tokens" });
    expect(performance.now() - started).toBeLessThan(5000);
    const stream = await slow.handle(post("/v1/completions", { ...body, stream: true }));
    expect(stream.status).toBe(200);
    const events = parseSse(await stream.text());
    const last = JSON.parse(events.at(-1)!) as { error?: { code: string } };
    expect(last.error?.code).toBe("request_timeout");
  });
});

/**
 * Continuous batching seen from clients: concurrent streams get the text they get alone, a full wait queue answers
 * 429 with Retry-After, and a client that goes away stops its generation (counted through engine.stats()).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import OpenAI, { RateLimitError } from "openai";
import { createApp } from "../../src/app.ts";
import { parseCli } from "../../src/config.ts";
import { Engine } from "../../src/engine/engine.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import { ApiKeys } from "../../src/http/api-keys.ts";
import { REPO_ROOT, serverModes, startServer, type RunningServer } from "./harness.ts";
import { describeEachMode, errorOf } from "./suite.ts";

type Params = OpenAI.Completions.CompletionCreateParamsNonStreaming;

const MIXED: Params[] = [
  { model: "tiny-llama", prompt: "The quick brown fox", max_tokens: 40, temperature: 0 },
  { model: "tiny-llama", prompt: "Once upon a time", max_tokens: 30, temperature: 1.1, seed: 5 },
  { model: "tiny-llama", prompt: "A", max_tokens: 50, temperature: 0.8, top_p: 0.9, seed: 77 },
  { model: "tiny-llama", prompt: "In the middle of the night, the old river", max_tokens: 12, temperature: 0 },
  { model: "tiny-llama", prompt: "Stop words", max_tokens: 45, temperature: 0.7, seed: 3, stop: ["e "] },
  { model: "tiny-llama", prompt: "Hello there", max_tokens: 35, temperature: 0 },
  { model: "tiny-llama", prompt: "General Kenobi", max_tokens: 25, temperature: 1.3, seed: 11 },
  { model: "tiny-llama", prompt: "x", max_tokens: 20, temperature: 0.9, top_p: 0.5, seed: 2 },
  // A second model decodes at the same time in the same generation worker.
  { model: "tiny-gpt2", prompt: "Hello there", max_tokens: 35, temperature: 0 },
  { model: "tiny-gpt2", prompt: "General Kenobi", max_tokens: 25, temperature: 1.3, seed: 11 },
];

async function streamText(client: OpenAI, params: Params): Promise<{ text: string; finish: string | null }> {
  const stream = await client.completions.create({ ...params, stream: true });
  let text = "";
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  return { text, finish };
}

describeEachMode("concurrent streams", (ctx) => {
  it("concurrent streams through the SDK (8 on one model) each get the text they get alone", async () => {
    const alone = [];
    for (const params of MIXED) alone.push(await streamText(ctx().client, params));
    const together = await Promise.all(MIXED.map((params) => streamText(ctx().client, params)));
    expect(together).toEqual(alone);
    expect(alone.every(({ text }) => text.length > 0)).toBe(true);
  });
});

for (const mode of serverModes()) {
  describe(`a full wait queue [${mode}]`, () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer({ mode, args: ["--max-batch", "1", "--max-queue", "1"] });
    });
    afterAll(() => server.stop());

    it("answers 429 rate_limit_exceeded with Retry-After beyond the queue, and serves the waiting request later", async () => {
      const post = (body: object, signal?: AbortSignal) =>
        fetch(`${server.baseURL}/v1/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
          signal,
        });
      // The only place in the batch: a long stream, running once its first chunk is out.
      const holder = new AbortController();
      const running = await post({ model: "gpt2-vocab", prompt: "Hi", max_tokens: 1000, stream: true }, holder.signal);
      const reader = running.body!.getReader();
      await reader.read();

      // Of two more requests, one takes the only place in the queue and the other is refused at once.
      const short = { model: "gpt2-vocab", prompt: "one more", max_tokens: 4 };
      const both = [post(short), post(short)];
      const refused = await Promise.race(both);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await errorOf(refused)).toMatchObject({ type: "requests", code: "rate_limit_exceeded", param: null });
      const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: "unused", maxRetries: 0 });
      const error = await client.completions.create(short).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitError);
      expect((error as RateLimitError).headers?.get("retry-after")).toBe("1");

      holder.abort();
      await reader.cancel().catch(() => {});
      const statuses = (await Promise.all(both)).map((response) => response.status).sort();
      expect(statuses).toEqual([200, 429]);
    });
  });
}

describe("a client that goes away", () => {
  const cli = parseCli([], {});
  if (cli.kind !== "run") throw new Error("expected run");
  const engine = new Engine({
    registry: new ModelRegistry({ modelsDir: `${REPO_ROOT}/models` }),
    maxLoadedModels: 2,
    intraOpThreads: 0,
  });
  const app = createApp({ engine, apiKeys: new ApiKeys([]), corsAllowOrigins: [], limits: cli.config.limits });
  let baseURL = "";
  beforeAll(() => {
    app.listen({ port: 0, hostname: "127.0.0.1" });
    baseURL = `http://127.0.0.1:${app.server!.port}`;
  });
  afterAll(async () => {
    await app.stop(true);
    await engine.close();
  });

  const BUDGET = 1000;
  const model = "gpt2-vocab";
  const stats = async () => (await engine.stats()).models[model];
  /** Waits (a bounded number of turns) until the model's scheduler has nothing left to run. */
  async function settled() {
    for (let i = 0; i < 500; i++) {
      const now = await stats();
      if (now && now.rows === 0 && now.queued === 0 && now.prefilling === 0) return now;
      await Bun.sleep(10);
    }
    throw new Error("the scheduler never went idle");
  }

  it("stops a stream's generation when the client closes it", async () => {
    const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: "unused", maxRetries: 0 });
    await client.completions.create({ model, prompt: "warm up", max_tokens: 1 });
    const before = (await settled()).generatedTokens;
    const stream = await client.completions.create({ model, prompt: "Hi", max_tokens: BUDGET, temperature: 0, stream: true });
    let chunks = 0;
    for await (const _ of stream) if (++chunks === 3) break; // leaving the loop closes the connection
    const atDisconnect = (await stats())!.generatedTokens - before;
    const after = await settled();
    const generated = after.generatedTokens - before;
    expect(atDisconnect).toBeGreaterThanOrEqual(3);
    // The rest of the budget is never generated: only what was under way when the server saw the disconnect.
    expect(generated - atDisconnect).toBeLessThan(BUDGET / 2);
    expect(generated).toBeLessThan(BUDGET / 2);
    expect(after.cancelled).toBe(1);
  });

  it("stops a non-streamed request's generation when its connection closes", async () => {
    const before = (await settled()).generatedTokens;
    const abort = new AbortController();
    const response = fetch(`${baseURL}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, prompt: "Hi", max_tokens: BUDGET, temperature: 0 }),
      signal: abort.signal,
    }).catch((error: unknown) => error);
    for (let i = 0; i < 500 && !((await stats())!.generatedTokens > before); i++) await Bun.sleep(2);
    abort.abort();
    expect(await response).toBeInstanceOf(Error);
    const after = await settled();
    expect(after.generatedTokens - before).toBeLessThan(BUDGET / 2);
    expect(after.cancelled).toBe(2);
  });
});

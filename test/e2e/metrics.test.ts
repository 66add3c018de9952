import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { parsePrometheus, sample } from "../telemetry/prometheus-text.ts";
import { parseSse } from "./suite.ts";
import { serverModes, startServer, type RunningServer } from "./harness.ts";

const KEY = "metrics-test-key";
const auth = { authorization: `Bearer ${KEY}` };

for (const mode of serverModes()) {
  describe(`GET /metrics [${mode}]`, () => {
    let server: RunningServer;
    const scrape = async () => {
      const response = await fetch(`${server.baseURL}/metrics`, { headers: auth });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
      return parsePrometheus(await response.text());
    };
    const post = (path: string, body: unknown) =>
      fetch(`${server.baseURL}${path}`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    beforeAll(async () => {
      server = await startServer({ mode, args: ["--api-key", KEY, "--max-batch", "1"] });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it("needs the API key when keys are set", async () => {
      const refused = await fetch(`${server.baseURL}/metrics`);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    });

    it("moves by exactly what the requests did", async () => {
      const before = await scrape();
      // No model has been used yet: scraping did not start the engine.
      expect(sample(before, "gpt3dev_loaded_models")).toBe(0);
      expect(sample(before, "process_resident_memory_bytes")).toBeGreaterThan(10_000_000);

      // Streamed, so that every text the server sent (and so every gap between two of them) is seen here.
      const streamed = await post("/v1/completions", {
        model: "tiny-gpt2",
        prompt: "One two three",
        max_tokens: 6,
        n: 2,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks = parseSse(await streamed.text()).slice(0, -1).map((d) => JSON.parse(d) as {
        choices: Array<{ index: number; text: string; finish_reason: string | null }>;
        usage?: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details: { cached_tokens: number } } | null;
      });
      const streamUsage = chunks.at(-1)!.usage!;
      const choices = chunks.flatMap((c) => c.choices);
      expect(choices.filter((c) => c.finish_reason !== null).map((c) => c.finish_reason)).toEqual(["length", "length"]);
      const textsOf = [0, 1].map((index) => choices.filter((c) => c.index === index && c.text !== "").length);
      expect(textsOf[0]).toBeGreaterThan(1);
      // One token: no gap between tokens, no decode step. Sent twice: the second reads its prompt from the prefix cache.
      const once = { model: "tiny-gpt2", prompt: "The quick brown fox jumps over the lazy dog. ".repeat(2), max_tokens: 1, temperature: 0 };
      const answers = [];
      for (let i = 0; i < 2; i++) {
        const whole = await post("/v1/completions", once);
        expect(whole.status).toBe(200);
        answers.push((await whole.json()) as {
          choices: Array<{ text: string }>;
          usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details: { cached_tokens: number } };
        });
      }
      const [completion, repeated] = answers as [(typeof answers)[number], (typeof answers)[number]];
      expect(repeated.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);

      const missing = await post("/v1/completions", { model: "no-such-model", prompt: "x" });
      expect(missing.status).toBe(404);

      const after = await scrape();
      const delta = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
      const model = { model: "tiny-gpt2" };
      expect(delta("gpt3dev_requests_total", { route: "/v1/completions", method: "POST", status: "404" })).toBe(1);
      expect(delta("gpt3dev_requests_total", { route: "/metrics", method: "GET", status: "200" })).toBe(1);
      expect(delta("gpt3dev_requests_total", { route: "/v1/completions", method: "POST", status: "200" })).toBe(3);
      expect(delta("gpt3dev_prompt_tokens_total", model)).toBe(2 * completion.usage.prompt_tokens + streamUsage.prompt_tokens);
      expect(delta("gpt3dev_generation_tokens_total", model)).toBe(2 * completion.usage.completion_tokens + streamUsage.completion_tokens);
      expect(delta("gpt3dev_cached_prompt_tokens_total", model)).toBe(
        completion.usage.prompt_tokens_details.cached_tokens + repeated.usage.prompt_tokens_details.cached_tokens + streamUsage.prompt_tokens_details.cached_tokens,
      );
      expect(repeated.choices[0]!.text).toBe(completion.choices[0]!.text);
      expect(delta("gpt3dev_time_to_first_token_seconds_count", model)).toBe(completion.choices[0]!.text === "" ? 1 : 3);
      expect(delta("gpt3dev_inter_token_latency_seconds_count", model)).toBe(textsOf[0]! - 1 + Math.max(0, textsOf[1]! - 1));
      // With --max-batch 1 every decode step holds one sequence; each choice's first token comes from its prefill.
      const decoded = streamUsage.completion_tokens - 2;
      expect(delta("gpt3dev_batch_size_count", model)).toBe(decoded);
      expect(delta("gpt3dev_batch_size_sum", model)).toBe(decoded);
      expect(delta("gpt3dev_batch_size_bucket", { ...model, le: "1" })).toBe(decoded);
      expect(delta("gpt3dev_model_loads_total", { ...model, result: "ok" })).toBe(1);
      expect(delta("gpt3dev_model_load_seconds_count", model)).toBe(1);
      expect(sample(after, "gpt3dev_loaded_models")).toBe(1);
      expect(sample(after, "gpt3dev_running_sequences", model)).toBe(0);
      expect(sample(after, "gpt3dev_queue_depth", model)).toBe(0);
    });

    it("shows a waiting request in the queue and a running one in the batch", async () => {
      const abort = new AbortController();
      // gpt2-vocab has room for 1,000 tokens: the first request decodes long enough to be seen running.
      const long = { model: "gpt2-vocab", prompt: "Tell me", max_tokens: 1000, temperature: 0, stream: true };
      const first = await fetch(`${server.baseURL}/v1/completions`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(long),
        signal: abort.signal,
      });
      const reader = first.body!.getReader();
      await reader.read();
      const second = fetch(`${server.baseURL}/v1/completions`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(long),
        signal: abort.signal,
      }).catch(() => undefined);
      let seen = { queued: -1, running: -1 };
      for (let i = 0; i < 200; i++) {
        const now = await scrape();
        seen = {
          queued: sample(now, "gpt3dev_queue_depth", { model: "gpt2-vocab" }),
          running: sample(now, "gpt3dev_running_sequences", { model: "gpt2-vocab" }),
        };
        if (seen.queued === 1) break;
        await Bun.sleep(25);
      }
      abort.abort();
      await second;
      expect(seen).toEqual({ queued: 1, running: 1 });
    });
  });
}

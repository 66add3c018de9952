import { expect, it } from "bun:test";
import { describeEachMode } from "../e2e/suite.ts";

const ABANDONED = 200;
const GIVE_UP_MS = 500;

describeEachMode("clients that go away", (ctx) => {
  it("a client that disconnects mid-stream leaves no unhandled rejection or error in the log", async () => {
    const before = ctx().server.output().length;
    for (let i = 0; i < 5; i++) {
      const abort = new AbortController();
      const response = await fetch(`${ctx().server.baseURL}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "tiny-gpt2", prompt: `disconnect ${i}`, max_tokens: 100, stream: true }),
        signal: abort.signal,
      });
      const reader = response.body!.getReader();
      await reader.read();
      abort.abort();
      await reader.cancel().catch(() => {});
    }
    await Bun.sleep(300);
    expect((await fetch(`${ctx().server.baseURL}/healthz`)).status).toBe(200);
    expect(ctx().server.output().slice(before)).not.toMatch(/unhandled|rejection|error|exception|\[gpt3dev\] POST/i);
  });

  // vLLM's cancellation test: abandoned work must be dropped, not queued ahead of the next client.
  it(`answers promptly after ${ABANDONED} clients gave up after ${GIVE_UP_MS} ms`, async () => {
    const before = ctx().server.output().length;
    const abandoned = Array.from({ length: ABANDONED }, (_, i) =>
      fetch(`${ctx().server.baseURL}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt2-vocab", prompt: `abandon ${i}`, max_tokens: 100, stream: i % 2 === 0 }),
        signal: AbortSignal.timeout(GIVE_UP_MS),
      }).then(async (response) => {
        await response.text();
        return response.status;
      }),
    );
    const outcomes = await Promise.allSettled(abandoned);
    // Beyond --max-queue the server refuses at once (429): that work is dropped before it starts.
    const refused = outcomes.filter((o) => o.status === "fulfilled" && o.value === 429).length;
    expect(outcomes.filter((o) => o.status === "rejected").length + refused).toBeGreaterThan(ABANDONED / 2);
    const started = performance.now();
    const completion = await ctx().client.completions.create(
      { model: "gpt2-vocab", prompt: "after the storm", max_tokens: 8 },
      { timeout: 10_000 },
    );
    const elapsed = performance.now() - started;
    expect(completion.choices[0]!.finish_reason).toBe("length");
    expect(elapsed).toBeLessThan(3000);
    expect(ctx().server.output().slice(before)).not.toMatch(/unhandled|rejection|\[gpt3dev\] POST/i);
  }, 30_000);
});

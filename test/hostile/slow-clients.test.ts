import { expect, it } from "bun:test";
import type { Socket } from "bun";
import { describeEachMode } from "../e2e/suite.ts";

const TRICKLERS = 24;
const TRICKLE_MS = 50;

/** Opens a raw TCP connection that sends `text` one byte at a time, for as long as the test runs. */
async function trickle(port: number, text: string): Promise<{ stop(): void }> {
  let socket: Socket | undefined;
  let at = 0;
  socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, error() {}, close() {} } });
  const timer = setInterval(() => {
    if (at < text.length) socket?.write(text[at++]!);
  }, TRICKLE_MS);
  return {
    stop() {
      clearInterval(timer);
      socket?.end();
    },
  };
}

describeEachMode("slow clients", (ctx) => {
  it("headers or bodies trickled byte by byte over raw sockets do not hold up other requests", async () => {
    const port = Number(new URL(ctx().server.baseURL).port);
    const body = JSON.stringify({ model: "tiny-gpt2", prompt: "slow", max_tokens: 1 });
    const headersOnly = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Padding: " + "a".repeat(500);
    const slowBody = `POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const clients = await Promise.all(
      Array.from({ length: TRICKLERS }, (_, i) =>
        i % 2 === 0 ? trickle(port, headersOnly) : trickle(port, slowBody + body),
      ),
    );
    try {
      // Let every trickler get some bytes in (for the body ones: their headers, and some of the body).
      await Bun.sleep(40 * TRICKLE_MS);
      const started = performance.now();
      const health = await fetch(`${ctx().server.baseURL}/healthz`, { signal: AbortSignal.timeout(5000) });
      expect(health.status).toBe(200);
      const completion = await ctx().client.completions.create(
        { model: "tiny-gpt2", prompt: "Hello", max_tokens: 4 },
        { timeout: 5000 },
      );
      expect(completion.choices).toHaveLength(1);
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      for (const client of clients) client.stop();
    }
  }, 20_000);
});

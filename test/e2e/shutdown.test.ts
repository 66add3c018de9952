/**
 * SIGTERM / SIGINT: the server stops accepting at once, lets requests in flight finish within
 * --shutdown-grace-seconds, then exits 0 — from source and as the compiled executable.
 *
 * The stream comes from `gpt2-vocab` with 8 choices of 1000 tokens each: well over a megabyte of events, more than
 * the socket buffers hold, so it stays in flight until the test reads it, however fast the machine generates.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { serverModes, startServer, stopAllServers, type RunningServer } from "./harness.ts";

const LONG_STREAM = { model: "gpt2-vocab", prompt: ["Hi", "Hi", "Hi", "Hi"], n: 2, max_tokens: 1000, stream: true };

afterAll(stopAllServers);

type Chunks = AsyncIterator<Uint8Array>;

async function openStream(server: RunningServer): Promise<{ chunks: Chunks; first: string }> {
  const response = await fetch(`${server.baseURL}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(LONG_STREAM),
  });
  if (response.status !== 200 || !response.body) throw new Error(`${response.status} ${await response.text()}`);
  const chunks = response.body[Symbol.asyncIterator]();
  const { value } = await chunks.next();
  return { chunks, first: new TextDecoder().decode(value) };
}

/** Everything left in the stream; a connection cut by the server ends it early instead of throwing. */
async function readRest(chunks: Chunks): Promise<{ text: string; cut: boolean }> {
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await chunks.next();
      if (done) return { text: text + decoder.decode(new Uint8Array()), cut: false };
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return { text, cut: true };
  }
}

/** Waits until a fresh TCP connection to the server's port is refused (or reset); false if it is still accepted after 3 s. */
async function refusesConnections(server: RunningServer): Promise<boolean> {
  const { hostname, port } = new URL(server.baseURL);
  const deadline = performance.now() + 3000;
  while (performance.now() < deadline) {
    try {
      const socket = await Bun.connect({ hostname, port: Number(port), socket: { data() {} } });
      socket.end();
    } catch (error) {
      // A connection caught in the backlog while the listener closes is reset instead of refused: not served either.
      const code = (error as { code?: string }).code;
      if (code === "ECONNREFUSED" || code === "ECONNRESET") return true;
      throw error;
    }
    await Bun.sleep(10);
  }
  return false;
}

function isRunning(server: RunningServer): boolean {
  return server.proc.exitCode === null && server.proc.signalCode === null;
}

describe.each(serverModes())("graceful shutdown (%s)", (mode) => {
  test("SIGTERM mid-stream: new connections are refused, the stream completes with [DONE], exit code 0", async () => {
    const server = await startServer({ mode });
    const { chunks, first } = await openStream(server);
    expect(first).toStartWith("data: {");

    server.proc.kill("SIGTERM");
    expect(await refusesConnections(server)).toBe(true);
    // Refused while the process still runs: the listener closed, not the whole server.
    expect(isRunning(server)).toBe(true);

    const { text, cut } = await readRest(chunks);
    expect(cut).toBe(false);
    expect(text).toEndWith("data: [DONE]\n\n");
    const events = (first + text).split("\n\n").filter(Boolean);
    const last = JSON.parse(events.at(-2)!.slice("data: ".length)) as { choices: { finish_reason: string | null }[] };
    expect(["length", "stop"]).toContain(last.choices[0]!.finish_reason!);

    expect(await server.proc.exited).toBe(0);
    expect(server.output()).toContain("SIGTERM: not accepting connections; 1 request(s) in flight");
  });

  test("--shutdown-grace-seconds 0 cuts a stream in flight and still exits 0", async () => {
    const server = await startServer({ mode, args: ["--shutdown-grace-seconds", "0"] });
    const { chunks } = await openStream(server);

    server.proc.kill("SIGTERM");
    const { text } = await readRest(chunks);
    expect(text).not.toContain("[DONE]");
    expect(await server.proc.exited).toBe(0);
    expect(server.output()).toContain("closing 1 request(s) still in flight");
  });

  test("a second signal cuts what the grace period was waiting for", async () => {
    const server = await startServer({ mode, args: ["--shutdown-grace-seconds", "60"] });
    const { chunks } = await openStream(server);

    server.proc.kill("SIGTERM");
    expect(await refusesConnections(server)).toBe(true);
    server.proc.kill("SIGINT");
    const { text } = await readRest(chunks);
    expect(text).not.toContain("[DONE]");
    expect(await server.proc.exited).toBe(0);
    expect(server.output()).toContain("SIGINT again: closing in-flight requests now");
  });

  test("SIGINT with only idle keep-alive connections exits 0 at once", async () => {
    const server = await startServer({ mode });
    // Leaves a keep-alive connection in fetch's pool: it must not hold the shutdown up.
    expect((await fetch(`${server.baseURL}/healthz`)).status).toBe(200);

    const started = performance.now();
    expect(await server.stop("SIGINT")).toBe(0);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

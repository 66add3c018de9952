/**
 * Embeddings run in their own worker: a 256-input embeddings request does not pause the streams that are decoding.
 * Before the split, the engine worker that decodes also embedded, and no token at all arrived while it did.
 */
import { expect, it } from "bun:test";
import { describeEachMode, type ServerContext } from "./suite.ts";

// 256 inputs of about 120 tokens each: the largest request tiny-bert (128 positions) takes without truncating.
const INPUTS = Array.from({ length: 256 }, (_, i) => `${i} ${"river ".repeat(120)}`);

/** Greedy streams on gpt2-vocab one after another until `stop` settles; the arrival time of every text event. */
async function streamUntil(ctx: ServerContext, stop: Promise<unknown>, firstToken: () => void): Promise<number[]> {
  const hangUp = new AbortController();
  void stop.finally(() => hangUp.abort());
  const arrivals: number[] = [];
  while (!hangUp.signal.aborted) {
    const response = await fetch(`${ctx.server.baseURL}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt2-vocab",
        prompt: "Hello",
        max_tokens: 1000,
        temperature: 0,
        stream: true,
      }),
      signal: hangUp.signal,
    }).catch(() => undefined);
    if (!response) break;
    expect(response.status).toBe(200);
    const decoder = new TextDecoder();
    let buffer = "";
    const body = response.body!;
    const read = async () => {
      for await (const bytes of body) {
        const t = performance.now();
        buffer += decoder.decode(bytes, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          if (event.startsWith("data: {") && (JSON.parse(event.slice(6)) as { choices: { text: string }[] }).choices[0]?.text) {
            arrivals.push(t);
            if (arrivals.length === 1) firstToken();
          }
        }
      }
    };
    // Hanging up ends the body with an abort error: the streams were stopped on purpose.
    await read().catch((error: unknown) => {
      if (!hangUp.signal.aborted) throw error;
    });
  }
  return arrivals;
}

async function embed(ctx: ServerContext): Promise<{ vectors: number[][]; startMs: number; endMs: number }> {
  const startMs = performance.now();
  const response = await ctx.post("/v1/embeddings", {
    model: "tiny-bert",
    input: INPUTS,
    encoding_format: "float",
  });
  const body = (await response.json()) as { data: { embedding: number[] }[] };
  expect(response.status).toBe(200);
  return {
    vectors: body.data.map((d) => d.embedding),
    startMs,
    endMs: performance.now(),
  };
}

describeEachMode("a large embeddings request next to streams", (ctx) => {
  it("leaves tokens arriving through the middle of the request, and embeds as it does alone", async () => {
    const alone = await embed(ctx());
    let tokenFlowing!: () => void;
    const flowing = new Promise<void>((resolve) => (tokenFlowing = resolve));
    let finished!: () => void;
    const stop = new Promise<void>((resolve) => (finished = resolve));
    const streams = streamUntil(ctx(), stop, tokenFlowing);
    await flowing;
    const busy = await embed(ctx()).finally(finished);
    const arrivals = await streams;

    expect(busy.vectors).toEqual(alone.vectors);
    expect(busy.vectors).toHaveLength(256);
    // The middle half of the request leaves out sending it and reading the answer: there the embeddings model runs,
    // and in a shared worker no token could be decoded. The count is loose on purpose (a loaded 2-core machine).
    const quarter = (busy.endMs - busy.startMs) / 4;
    const middle = arrivals.filter((t) => t > busy.startMs + quarter && t < busy.endMs - quarter);
    console.error(`embeddings request ${(busy.endMs - busy.startMs).toFixed(0)} ms, ${middle.length} tokens in its middle half`);
    expect(middle.length).toBeGreaterThanOrEqual(5);
  }, 120_000);
});

// gpt3dev over HTTP as a client sees it: streamed completions (SSE), timed chunk by chunk, one or many at once,
// and /healthz latency while streams run.
import { elapsedMs, now, percentile } from "./stats.ts";

export interface StreamTiming {
  startNs: number;
  /** Arrival of each chunk that carried text. */
  textNs: number[];
  /** Arrival of the chunk with finish_reason. */
  finishNs: number;
  endNs: number;
  /** From the usage chunk (stream_options.include_usage). */
  completionTokens: number;
}

export interface StreamRequest {
  model: string;
  promptIds: number[];
  tokens: number;
}

/** One greedy streamed completion of exactly the request's prompt ids, timed at every SSE event. */
export async function timedStream(baseURL: string, req: StreamRequest): Promise<StreamTiming> {
  const body = {
    model: req.model,
    prompt: req.promptIds,
    max_tokens: req.tokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  };
  const startNs = now();
  const response = await fetch(`${baseURL}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok || !response.body) throw new Error(`POST /v1/completions: ${response.status} ${await response.text()}`);
  const timing: StreamTiming = { startNs, textNs: [], finishNs: 0, endNs: 0, completionTokens: 0 };
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const bytes of response.body) {
    const t = now();
    buffer += decoder.decode(bytes, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data) as {
        error?: { message: string };
        choices?: { text?: string; finish_reason?: string | null }[];
        usage?: { completion_tokens: number } | null;
      };
      if (chunk.error) throw new Error(`stream error: ${chunk.error.message}`);
      const choice = chunk.choices?.[0];
      if (choice?.text) timing.textNs.push(t);
      if (choice?.finish_reason) timing.finishNs = t;
      if (chunk.usage) timing.completionTokens = chunk.usage.completion_tokens;
    }
  }
  timing.endNs = now();
  if (timing.finishNs === 0) timing.finishNs = timing.endNs;
  return timing;
}

export function ttftMs(s: StreamTiming): number {
  return elapsedMs(s.startNs, s.textNs[0] ?? s.finishNs);
}

/** Decode rate of one stream after its first token: (tokens − 1) / (last − first). */
export function decodeTps(s: StreamTiming): number {
  const first = s.textNs[0];
  if (first === undefined || s.completionTokens < 2) return 0;
  return (s.completionTokens - 1) / (elapsedMs(first, s.finishNs) / 1000);
}

/** Gaps between consecutive text chunks of one stream (a chunk is one token unless text was held back). */
export function interTokenMs(s: StreamTiming): number[] {
  return s.textNs.slice(1).map((t, i) => elapsedMs(s.textNs[i] as number, t));
}

export interface ConcurrencyResult {
  streams: number;
  tokens: number;
  wallMs: number;
  /** All completion tokens / wall time from the first request to the last finish (prefill included). */
  aggregateTps: number;
  ttftP50Ms: number;
  ttftP95Ms: number;
  itlP50Ms: number;
  itlP95Ms: number;
  /** Single-stream decode rate (meaningful for streams = 1). */
  decodeTps: number;
  healthz?: { count: number; p50Ms: number; p99Ms: number };
}

/** GET /healthz back to back (10 ms apart) until `done` settles; returns each latency. */
async function probeHealth(baseURL: string, done: Promise<unknown>): Promise<number[]> {
  let finished = false;
  void done.finally(() => (finished = true));
  const latencies: number[] = [];
  while (!finished) {
    const t = now();
    const response = await fetch(`${baseURL}/healthz`);
    await response.arrayBuffer();
    latencies.push(elapsedMs(t, now()));
    await Bun.sleep(10);
  }
  return latencies;
}

/** `streams` identical greedy streams started together. */
export async function concurrentStreams(baseURL: string, req: StreamRequest, streams: number, health = false): Promise<ConcurrencyResult> {
  const t0 = now();
  const all = Promise.all(Array.from({ length: streams }, () => timedStream(baseURL, req)));
  const healthLatencies = health ? probeHealth(baseURL, all.catch(() => {})) : undefined;
  const timings = await all;
  const t1 = Math.max(...timings.map((s) => s.finishNs));
  const tokens = timings.reduce((sum, s) => sum + s.completionTokens, 0);
  const ttfts = timings.map(ttftMs);
  const itls = timings.flatMap(interTokenMs);
  const result: ConcurrencyResult = {
    streams,
    tokens,
    wallMs: elapsedMs(t0, t1),
    aggregateTps: tokens / (elapsedMs(t0, t1) / 1000),
    ttftP50Ms: percentile(ttfts, 50),
    ttftP95Ms: percentile(ttfts, 95),
    itlP50Ms: percentile(itls, 50),
    itlP95Ms: percentile(itls, 95),
    decodeTps: decodeTps(timings[0] as StreamTiming),
  };
  if (healthLatencies) {
    const latencies = await healthLatencies;
    result.healthz = { count: latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
  }
  return result;
}

// gpt3dev over HTTP as a client sees it: streamed completions (SSE), timed chunk by chunk, one or many at once,
// and /healthz latency while streams run.
import { elapsedMs, now, percentile, repeatFor, summarize, sum, type Decode, type PathFigures } from "./stats.ts";

export interface StreamTiming {
  startNs: number;
  /** Arrival of each chunk that carried text. */
  textNs: number[];
  /** Arrival of the chunk with finish_reason. */
  finishNs: number;
  endNs: number;
  /** From the usage chunk (stream_options.include_usage). */
  completionTokens: number;
  /** Prompt tokens the server took from its prefix cache (usage.prompt_tokens_details.cached_tokens). */
  cachedTokens: number;
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
  const timing: StreamTiming = { startNs, textNs: [], finishNs: 0, endNs: 0, completionTokens: 0, cachedTokens: 0 };
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
        usage?: { completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } } | null;
      };
      if (chunk.error) throw new Error(`stream error: ${chunk.error.message}`);
      const choice = chunk.choices?.[0];
      if (choice?.text) timing.textNs.push(t);
      if (choice?.finish_reason) timing.finishNs = t;
      if (chunk.usage) {
        timing.completionTokens = chunk.usage.completion_tokens;
        timing.cachedTokens = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
      }
    }
  }
  timing.endNs = now();
  if (timing.finishNs === 0) timing.finishNs = timing.endNs;
  return timing;
}

/** A stream as a Decode: first token = first text chunk, last = the finish chunk, deliveries = text chunks. */
export function asDecode(s: StreamTiming): Decode {
  const gapsMs = s.textNs.slice(1).map((t, i) => elapsedMs(s.textNs[i] as number, t));
  return { rows: 1, tokens: s.completionTokens, startNs: s.startNs, firstNs: s.textNs[0] ?? s.finishNs, endNs: s.finishNs, gapsMs, deliveries: s.textNs.length };
}

export interface ConcurrencyResult {
  streams: number;
  /** Times the group of streams ran (repeated until it had run for a second). */
  runs: number;
  /** All completion tokens of all runs. */
  tokens: number;
  wallMs: number;
  /** All completion tokens / time from the first request to the last finish, summed over runs (prefill included). */
  aggregateTps: number;
  ttftP50Ms: number;
  ttftP95Ms: number;
  /** Gaps between consecutive text chunks of a stream (a chunk is one token unless text was held back). */
  itlP50Ms: number;
  itlP95Ms: number;
  /** The figures of one stream (for 1 stream: the single-client figures compared with the raw loop). */
  perStream: PathFigures;
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

async function group(baseURL: string, req: StreamRequest, streams: number, distinct: boolean) {
  const t0 = now();
  // Distinct prompts differ from their first token on, as llama.cpp's sequences in bench/llama-cpp.ts do.
  const prompt = (s: number) => (distinct ? { ...req, promptIds: req.promptIds.map((id, i) => (i === 0 ? id + 5000 * s : id)) } : req);
  const timings = await Promise.all(Array.from({ length: streams }, (_, s) => timedStream(baseURL, prompt(s))));
  return { timings, wallMs: elapsedMs(t0, Math.max(...timings.map((s) => s.finishNs))) };
}

/**
 * `streams` greedy streams started together, again and again until they have run for a second: identical, or with
 * `distinct` prompts that share nothing (so no prefix cache can serve one from another).
 */
export async function concurrentStreams(baseURL: string, req: StreamRequest, streams: number, health = false, distinct = false): Promise<ConcurrencyResult> {
  const all = repeatFor(() => group(baseURL, req, streams, distinct), (g) => g.wallMs);
  const healthLatencies = health ? probeHealth(baseURL, all.catch(() => {})) : undefined;
  const groups = await all;
  const timings = groups.flatMap((g) => g.timings);
  const decodes = timings.map(asDecode);
  const tokens = sum(timings.map((s) => s.completionTokens));
  const wallMs = sum(groups.map((g) => g.wallMs));
  const ttfts = decodes.map((d) => elapsedMs(d.startNs, d.firstNs));
  const itls = decodes.flatMap((d) => d.gapsMs);
  const result: ConcurrencyResult = {
    streams,
    runs: groups.length,
    tokens,
    wallMs,
    aggregateTps: tokens / (wallMs / 1000),
    ttftP50Ms: percentile(ttfts, 50),
    ttftP95Ms: percentile(ttfts, 95),
    itlP50Ms: percentile(itls, 50),
    itlP95Ms: percentile(itls, 95),
    perStream: summarize(decodes),
  };
  if (healthLatencies) {
    const latencies = await healthLatencies;
    result.healthz = { count: latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
  }
  return result;
}

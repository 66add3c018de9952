// Does the server give memory back? A stream of mixed requests (plain and streamed completions, n > 1, several
// prompts, stop strings, seeded sampling, chat, embeddings, clients that hang up mid-stream, refused requests) on the
// tiny models; the server's RSS after the first `checkpoint` requests is compared with RSS after all of them.
import { rssBytes } from "./stats.ts";

export interface MixedModels {
  text: string;
  /** A model with a chat template, or undefined to send chat requests to `text` (they are refused then). */
  chat?: string;
  embeddings?: string;
}

export interface LeakResult {
  requests: number;
  checkpoint: number;
  rssCheckpointBytes: number;
  rssEndBytes: number;
  /** RSS after all requests / RSS after the checkpoint. */
  ratio: number;
  /** RSS after every `checkpoint` requests: a leak climbs steadily, garbage collection only wobbles. */
  rssSeriesBytes: number[];
  /** How many requests got each HTTP status ("aborted" for the streams the client closed). */
  statuses: Record<string, number>;
}

type Mixed = { path: string; body?: unknown; stream?: boolean; abortAfterFirstChunk?: boolean };

/** The i-th request of the mix: ten kinds in turn, with varying lengths and seeds. */
export function mixedRequest(i: number, m: MixedModels): Mixed {
  const words = ["Once upon a time", "The model", "In a small town", "Hello", "A B C"];
  const prompt = `${words[i % words.length]} ${i}`;
  const tokens = 4 + (i % 13);
  const chat = m.chat ?? m.text;
  switch (i % 10) {
    case 0:
      return { path: "/v1/completions", body: { model: m.text, prompt, max_tokens: tokens, temperature: 0 } };
    case 1:
      return {
        path: "/v1/completions",
        stream: true,
        body: { model: m.text, prompt, max_tokens: tokens, temperature: 0.8, top_p: 0.9, seed: i, stream: true, stream_options: { include_usage: true } },
      };
    case 2:
      return { path: "/v1/completions", body: { model: m.text, prompt, max_tokens: tokens, n: 3, temperature: 1, seed: i } };
    case 3:
      return { path: "/v1/completions", stream: true, abortAfterFirstChunk: true, body: { model: m.text, prompt, max_tokens: 64, stream: true } };
    case 4:
      return { path: "/v1/completions", body: { model: m.text, prompt: [prompt, "Two prompts"], max_tokens: tokens, stop: [".", "\n"] } };
    case 5:
      return { path: "/v1/chat/completions", body: { model: chat, messages: [{ role: "user", content: prompt }], max_tokens: tokens } };
    case 6:
      return {
        path: "/v1/chat/completions",
        stream: true,
        body: { model: chat, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: prompt }], max_tokens: tokens, stream: true },
      };
    case 7:
      return m.embeddings
        ? { path: "/v1/embeddings", body: { model: m.embeddings, input: [prompt, "another input"] } }
        : { path: "/v1/models" };
    case 8:
      // Refused: more tokens than the context holds.
      return { path: "/v1/completions", body: { model: m.text, prompt, max_tokens: 100_000 } };
    default:
      // Refused: unknown model.
      return { path: "/v1/completions", body: { model: "no-such-model", prompt, max_tokens: 4 } };
  }
}

async function send(baseURL: string, req: Mixed): Promise<string> {
  const abort = new AbortController();
  const response = await fetch(`${baseURL}${req.path}`, {
    method: req.body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
    signal: abort.signal,
  });
  if (req.abortAfterFirstChunk && response.ok && response.body) {
    const reader = response.body.getReader();
    await reader.read();
    abort.abort();
    await reader.cancel().catch(() => {});
    return "aborted";
  }
  await response.arrayBuffer();
  return String(response.status);
}

/**
 * RSS once the server has been idle for a moment: aborted streams wind down and the server's garbage collector,
 * which runs when it is idle, has had its turn. Read the same way at every point, so the readings compare.
 */
async function settledRss(pid: number): Promise<number> {
  await Bun.sleep(250);
  return rssBytes(pid);
}

/** Sends `requests` mixed requests, `concurrency` at a time, and reads RSS at the checkpoint and at the end. */
export async function leakRun(opts: {
  baseURL: string;
  pid: number;
  models: MixedModels;
  requests: number;
  checkpoint: number;
  concurrency: number;
}): Promise<LeakResult> {
  const statuses: Record<string, number> = {};
  const rssSeriesBytes: number[] = [];
  for (let start = 0; start < opts.requests; start += opts.concurrency) {
    const wave = Array.from({ length: Math.min(opts.concurrency, opts.requests - start) }, (_, k) =>
      send(opts.baseURL, mixedRequest(start + k, opts.models)).catch((error: unknown) => `error: ${error instanceof Error ? error.message : error}`),
    );
    for (const status of await Promise.all(wave)) statuses[status] = (statuses[status] ?? 0) + 1;
    const done = start + wave.length;
    if (done >= opts.checkpoint * (rssSeriesBytes.length + 1)) rssSeriesBytes.push(await settledRss(opts.pid));
  }
  const rssCheckpointBytes = rssSeriesBytes[0] ?? Number.NaN;
  const rssEndBytes = await settledRss(opts.pid);
  return {
    requests: opts.requests,
    checkpoint: opts.checkpoint,
    rssCheckpointBytes,
    rssEndBytes,
    ratio: rssEndBytes / rssCheckpointBytes,
    rssSeriesBytes,
    statuses,
  };
}

import type { Server } from "bun";
import type { CompletionRun } from "../engine/completions.ts";
import { traceOf } from "../telemetry/request-trace.ts";
import { requestId, unixSeconds } from "./generation-params.ts";
import { generationTimeout } from "./limits.ts";
import { sseResponse, type SseFraming } from "./sse.ts";

export interface Head {
  id: string;
  created: number;
  model: string;
  systemFingerprint: string;
}

/** How one endpoint family shapes a run: the whole response, or the chunks of its stream. */
export interface GenerationFormat<Whole> {
  /** With its separator: `chatcmpl-`, `resp_`, `msg_`. */
  idPrefix: string;
  collect(run: CompletionRun, head: Head): Promise<Whole>;
  chunks(run: CompletionRun, head: Head, includeUsage: boolean): AsyncGenerator<object>;
  /** Frames one stream's events (a new framing per stream): OpenAI's `data:` lines unless the protocol says otherwise. */
  framing?: () => SseFraming;
}

export interface Exchange {
  request: Request;
  server: Server<unknown> | null;
  stream?: boolean | null;
  includeUsage?: boolean;
  /** `--request-timeout-seconds`: the run is stopped then, and the client told why. */
  timeoutSeconds: number;
}

/** What a route hands over: its request and server, and the streaming fields of the body. */
export function exchangeOf(
  context: { request: Request; server: Server<unknown> | null },
  body: { stream?: boolean | null; stream_options?: { include_usage?: boolean } | null },
  timeoutSeconds: number,
): Exchange {
  return { ...context, stream: body.stream, includeUsage: body.stream_options?.include_usage, timeoutSeconds };
}

/**
 * Starts a run and answers it as JSON or as an SSE stream. The run stops when the client goes away, and the model
 * is released however the exchange ends.
 */
export async function serveGeneration<Whole>(
  exchange: Exchange,
  start: (signal: AbortSignal) => Promise<CompletionRun>,
  format: GenerationFormat<Whole>,
): Promise<Whole | Response> {
  const abort = new AbortController();
  const deadline = AbortSignal.timeout(exchange.timeoutSeconds * 1000);
  const timedOut = () => generationTimeout(exchange.timeoutSeconds);
  const trace = traceOf(exchange.request);
  let run: CompletionRun;
  try {
    run = await start(AbortSignal.any([exchange.request.signal, abort.signal, deadline]));
  } catch (error) {
    throw deadline.aborted ? timedOut() : error;
  }
  // Timed as the client reads it: first token, gaps between tokens, token counts (logs and metrics).
  if (trace) run = trace.observe(run);
  // Generation may outlast Bun's idle timeout; the client decides how long it waits.
  exchange.server?.timeout(exchange.request, 0);
  const head = { id: requestId(format.idPrefix), created: unixSeconds(), model: run.modelId, systemFingerprint: run.systemFingerprint };
  if (exchange.stream) {
    const traced = trace?.hold();
    const chunks = failOnDeadline(format.chunks(run, head, exchange.includeUsage === true), deadline, timedOut);
    const onClose = () => {
      abort.abort();
      run.close();
      traced?.();
    };
    return sseResponse(chunks, onClose, format.framing?.());
  }
  try {
    const whole = await format.collect(run, head);
    if (deadline.aborted) throw timedOut();
    return whole;
  } finally {
    run.close();
  }
}

/** A stream cut by the deadline ends with an error frame rather than looking complete. */
async function* failOnDeadline(
  chunks: AsyncGenerator<object>,
  deadline: AbortSignal,
  timedOut: () => Error,
): AsyncGenerator<object> {
  for await (const chunk of chunks) {
    if (deadline.aborted) break;
    yield chunk;
  }
  if (deadline.aborted) throw timedOut();
}

/** The fields every response and chunk starts with, in OpenAI's order. */
export function envelope<const O extends string>(
  head: Head,
  object: O,
): { id: string; object: O; created: number; model: string; system_fingerprint: string } {
  return { id: head.id, object, created: head.created, model: head.model, system_fingerprint: head.systemFingerprint };
}

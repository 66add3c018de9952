import type { ChoiceEvent } from "./generation-job.ts";
import type { FinishReason } from "./sequence.ts";

/** A choice ended: as a sequence does, or "tool_calls" when its output was tool calls. */
export type CompletionFinishReason = FinishReason | "tool_calls";

/** A tool call starts (its id and name come first, as clients expect), then its arguments arrive in pieces. */
export type ToolCallEvent =
  | { kind: "tool_call"; index: number; call: number; id: string; name: string }
  | { kind: "tool_arguments"; index: number; call: number; text: string };

export type CompletionEvent =
  | Exclude<ChoiceEvent, { kind: "finish" }>
  | (Omit<Extract<ChoiceEvent, { kind: "finish" }>, "reason"> & { reason: CompletionFinishReason })
  | ToolCallEvent;

/** A validated request, ready to generate: prompt tokens are known before any output is produced. */
export interface CompletionRun {
  readonly modelId: string;
  /** Changes whenever the model or the code running it changes (see fingerprint.ts). */
  readonly systemFingerprint: string;
  readonly promptTokens: number;
  /** Valid once `events()` has finished. */
  readonly completionTokens: number;
  /** Prompt tokens reused from the prefix cache (included in `promptTokens`); valid once `events()` has finished. */
  readonly cachedTokens: number;
  /**
   * Choice `i * n + j` is the j-th sample of prompt i, as OpenAI numbers them. Choices run side by side, so their
   * events interleave. Ends early, without finish events, when the request's signal aborts.
   */
  events(): AsyncGenerator<CompletionEvent>;
  /** Stops generating (if it still is) and releases the model; safe to call more than once. */
  close(): void;
}

/** The same run with its events (and optionally its close) replaced; counts are still read from `run`. */
export function wrapRun(
  run: CompletionRun,
  events: () => AsyncGenerator<CompletionEvent>,
  close: () => void = () => run.close(),
): CompletionRun {
  return {
    modelId: run.modelId,
    systemFingerprint: run.systemFingerprint,
    promptTokens: run.promptTokens,
    get completionTokens() {
      return run.completionTokens;
    },
    get cachedTokens() {
      return run.cachedTokens;
    },
    events,
    close,
  };
}

/** Where the producer side of a run (the scheduler, or the worker's messages) delivers. */
export interface RunFeed {
  events(events: readonly CompletionEvent[]): void;
  done(completionTokens: number, cachedTokens?: number): void;
  fail(error: unknown): void;
}

/**
 * Connects a producer that pushes whole steps of events to one consumer that pulls them one by one. Nothing paces
 * the producer: a step's events wait here until the consumer reads them.
 */
export function createRun(
  info: { modelId: string; systemFingerprint: string; promptTokens: number },
  cancel: () => void,
  signal?: AbortSignal,
): { run: CompletionRun; feed: RunFeed } {
  let queue: CompletionEvent[] = [];
  let wake: (() => void) | undefined;
  let completionTokens = 0;
  let cachedTokens = 0;
  let state: "running" | "done" | "failed" | "stopped" = "running";
  let failure: unknown;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const stop = () => {
    if (state !== "running") return;
    state = "stopped";
    queue = [];
    cancel();
    notify();
  };
  if (signal?.aborted) queueMicrotask(stop);
  else signal?.addEventListener("abort", stop, { once: true });
  const feed: RunFeed = {
    events(events) {
      if (state !== "running") return;
      queue.push(...events);
      notify();
    },
    done(tokens, cached = 0) {
      if (state !== "running") return;
      completionTokens = tokens;
      cachedTokens = cached;
      state = "done";
      notify();
    },
    fail(error) {
      if (state !== "running") return;
      failure = error;
      state = "failed";
      notify();
    },
  };
  const run: CompletionRun = {
    ...info,
    get completionTokens() {
      return completionTokens;
    },
    get cachedTokens() {
      return cachedTokens;
    },
    close: stop,
    async *events() {
      try {
        for (;;) {
          if (queue.length > 0) {
            const batch = queue;
            queue = [];
            yield* batch;
            continue;
          }
          if (state === "failed") throw failure;
          if (state !== "running") return;
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        // A consumer that stops reading early (client gone) stops the generation too.
        stop();
      }
    },
  };
  return { run, feed };
}

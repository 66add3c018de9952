import type { FinishReason, SequenceParams } from "./sequence.ts";
import type { TokenLogprob } from "./token-logprobs.ts";

export interface SchedulerOptions {
  /** Sequences decoded together in one step. */
  maxBatch: number;
  /** Requests allowed to wait for a place in the batch; beyond it `submit` throws QueueFullError. */
  maxQueue: number;
  /** Prompt tokens per prefill run; longer prompts are split and interleaved with decode steps. */
  prefillChunk: number;
  /** Memory for the keys and values of recent prompts, reused by later prompts that start the same way; 0 or absent: off. */
  prefixCacheBytes?: number;
  /**
   * Bytes the running sequences' key/value cache may hold (each reserves prompt + max_tokens positions when admitted;
   * the rest wait). Unset: no limit.
   */
  kvCacheBytes?: number;
}

export const DEFAULT_SCHEDULER_OPTIONS: SchedulerOptions = {
  maxBatch: 8,
  maxQueue: 64,
  prefillChunk: 256,
  prefixCacheBytes: 256 * 2 ** 20,
};

export type ChoiceEvent =
  /**
   * `logprobs`: the tokens of this step, when the request asked for them. `prompt`: the echoed prompt, first (its
   * first token's logprob is null: nothing predicts it).
   */
  | { kind: "text"; index: number; text: string; logprobs?: TokenLogprob[]; prompt?: true }
  | { kind: "finish"; index: number; reason: FinishReason; stopSequence?: string };

/** Where a job's output goes; calls arrive between steps, in order. */
export interface JobSink {
  events(events: ChoiceEvent[]): void;
  /** Every choice finished (or the job was cancelled); `cachedTokens` of the prompts came from the prefix cache. */
  done(completionTokens: number, cachedTokens?: number): void;
  fail(error: unknown): void;
}

/** One request: its distinct prompts and its choices (choice i's events carry index i). */
export interface GenerationJob {
  prompts: ReadonlyArray<readonly number[]>;
  /** Each prompt's text as the client gave it, for choices that echo their prompt. */
  promptTexts?: readonly string[];
  choices: ReadonlyArray<{ prompt: number; params: SequenceParams }>;
  sink: JobSink;
}

export interface SchedulerStats {
  /** Rows in the batch now. */
  rows: number;
  /** Choices whose prompt is being prefilled. */
  prefilling: number;
  /** Requests waiting for a place in the batch. */
  queued: number;
  /** Batched decode runs so far. */
  steps: number;
  /** Tokens sampled so far (every choice's completion tokens). */
  generatedTokens: number;
  prefillTokens: number;
  /** Prompt tokens reused from the prefix cache instead of prefilled. */
  cachedTokens: number;
  /** Times the batch cache was rebuilt because rows joined or left. */
  packs: number;
  /** Choices stopped by cancellation before they finished (a failed request's choices included). */
  cancelled: number;
  /** Requests ended by an error (GenerationError, or the model being unloaded). */
  failed: number;
  /** Most rows ever decoded in one step. */
  peakRows: number;
  /** Bytes of the batch's key/value cache now (rows × width, padding included). */
  kvCacheBytes: number;
  /** Bytes the admitted sequences reserved (rows × longest prompt + max_tokens). */
  kvCacheReservedBytes: number;
  /** `--kv-cache-memory` per loaded model, null when unlimited. */
  kvCacheLimitBytes: number | null;
}

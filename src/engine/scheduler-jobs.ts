/**
 * The scheduler's bookkeeping of requests: a job per request, a choice per sample, a prompt group per distinct prompt
 * (prefilled once for all its choices), and the outbox that hands each job's events to its sink between steps.
 */
import type { ChoiceEvent, GenerationJob, JobSink } from "./generation-job.ts";
import type { Sequence, SequenceEvent, SequenceParams } from "./sequence.ts";
import type { PromptEcho } from "./prompt-echo.ts";

export interface PromptGroup<K> {
  ids: readonly number[];
  /**
   * The prompt's cache, row `row` of a block that a batched prefill may share with other prompts; dropped once every
   * choice of the prompt has joined the batch.
   */
  kv: K | undefined;
  row: number;
  prefilled: number;
  logits?: Float32Array;
  choices: Choice<K>[];
  echo?: PromptEcho;
}

export interface Choice<K> {
  job: Job<K>;
  index: number;
  group: PromptGroup<K>;
  params: SequenceParams;
  state: "queued" | "prefill" | "active" | "done";
  seq?: Sequence;
  /** Positions of this choice in the cache it sits in. */
  length: number;
  /** Set while joining: the prompt's cache (a row of a block), before it is packed into the batch. */
  source?: { kv: K; row: number };
}

export interface Job<K> {
  sink: JobSink;
  choices: Choice<K>[];
  /** Choices taken out of the wait queue so far. */
  admitted: number;
  /** Choices not done yet; the job ends with the last. */
  open: number;
  cancelled: boolean;
  pending: ChoiceEvent[];
  /** Prompt tokens taken from the prefix cache instead of prefilled. */
  cachedTokens: number;
}

/** A sink that drops everything: a failed job's real sink has already been told. */
const DETACHED: JobSink = { events() {}, done() {}, fail() {} };

export function createJob<K>(request: GenerationJob): Job<K> {
  const job: Job<K> = { sink: request.sink, choices: [], admitted: 0, open: request.choices.length, cancelled: false, pending: [], cachedTokens: 0 };
  const groups = request.prompts.map((ids): PromptGroup<K> => ({ ids, kv: undefined, row: 0, prefilled: 0, choices: [] }));
  request.choices.forEach(({ prompt, params }, index) => {
    const group = groups[prompt]!;
    const choice: Choice<K> = { job, index, group, params, state: "queued", length: 0 };
    group.choices.push(choice);
    job.choices.push(choice);
    if (params.echo) {
      group.echo ??= { text: request.promptTexts?.[prompt] ?? "", logprobs: [] };
      if (params.logprobs !== undefined) group.echo.top = Math.max(group.echo.top ?? 0, params.logprobs);
    }
  });
  return job;
}

/** Whether the prompt's prefill must score every prompt token (run alone, with every position's logits). */
export function scoresPrompt<K>(group: PromptGroup<K>): boolean {
  return group.echo?.top !== undefined;
}

/** Whether a prompt still has choices waiting for its prefill. */
export function awaitsPrefill<K>(group: PromptGroup<K>): boolean {
  return group.choices.some((c) => c.state === "queued" || c.state === "prefill");
}

/** Tokens sampled for the job so far, over all its choices. */
export function generatedTokens<K>(job: Job<K>): number {
  return job.choices.reduce((sum, c) => sum + (c.seq?.generated ?? 0), 0);
}

/**
 * Collects the events of a step per job and hands them over in one call per job, so a sink sees whole steps. A sink
 * that throws fails its own job only (`onSinkError`).
 */
export class EventOutbox<K> {
  /** Jobs with events not yet handed to their sink. */
  private readonly dirty = new Set<Job<K>>();

  constructor(private readonly onSinkError: (job: Job<K>, error: unknown) => void) {}

  add(choice: Choice<K>, events: readonly SequenceEvent[]): void {
    if (events.length === 0) return;
    for (const e of events) choice.job.pending.push({ ...e, index: choice.index });
    this.dirty.add(choice.job);
  }

  /** Hands the job's pending events to its sink now. */
  deliver(job: Job<K>): void {
    this.dirty.delete(job);
    if (job.pending.length === 0) return;
    const events = job.pending;
    job.pending = [];
    try {
      job.sink.events(events);
    } catch (error) {
      this.onSinkError(job, error);
    }
  }

  flush(): void {
    for (const job of [...this.dirty]) this.deliver(job);
  }

  /** Forgets the job's undelivered events (cancelled or failed). */
  drop(job: Job<K>): void {
    job.pending = [];
    this.dirty.delete(job);
  }

  /** Takes the job's sink away, so nothing reaches it after the returned one is told how the job ended. */
  static detach<K>(job: Job<K>): JobSink {
    const sink = job.sink;
    job.sink = DETACHED;
    return sink;
  }
}

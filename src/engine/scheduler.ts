import type { BatchModel, KvShape, StepOutput } from "./batch-model.ts";
import { DecodeBatch } from "./decode-batch.ts";
import { GenerationError, QueueFullError } from "./errors.ts";
import { KvBudget } from "./kv-budget.ts";
import type { GenerationJob, SchedulerOptions, SchedulerStats } from "./generation-job.ts";
import type { PromptPrefixes } from "./prefix-reuse.ts";
import { awaitsPrefill, createJob, EventOutbox, generatedTokens, type Choice, type Job } from "./scheduler-jobs.ts";
import { PromptPrefill } from "./scheduler-prefill.ts";
import { Sequence, type SequenceEvent } from "./sequence.ts";
import { LogprobReporter, type TokenDescriber } from "./token-logprobs.ts";

/**
 * Continuous batching for one loaded model (llama.cpp's slots, vLLM's step scheduler). Every iteration: admit
 * waiting choices first come first served while the batch has room, run at most `prefillChunk` prompt tokens
 * (PromptPrefill, src/engine/scheduler-prefill.ts), then decode one token for every active choice in one batched run
 * (DecodeBatch).
 *
 * Failures stay local: an exception while sampling, stop matching or detokenizing one row, or while packing its cache,
 * fails that row's request alone (GenerationError) and frees its place; a failed run of the model fails the requests
 * in that run; the loop and the other requests go on.
 */
export class Scheduler<K extends KvShape> {
  private readonly queue: Job<K>[] = [];
  private readonly prefill: PromptPrefill<K>;
  private readonly joining: Choice<K>[] = [];
  private readonly outbox = new EventOutbox<K>((job, error) => this.failJobs([job], error));
  private readonly batch: DecodeBatch<K>;
  /** What the admitted sequences may come to hold in the cache (`--kv-cache-memory`). */
  private readonly budget: KvBudget<Choice<K>>;
  private occupied = 0;
  private running = false;
  /** Settles when the loop has stopped: no run of the model is in flight or scheduled then. */
  private stopped: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly maxRows: number;
  private readonly reporter: LogprobReporter;
  private readonly counters = { steps: 0, generatedTokens: 0, cancelled: 0, failed: 0, peakRows: 0 };
  /** Told the batch size of every decode step (for metrics); plain numbers only. */
  onStep?: (rows: number) => void;

  constructor(
    private readonly model: BatchModel<K>,
    tokenizer: TokenDescriber,
    private readonly eosIds: ReadonlySet<number>,
    private readonly options: SchedulerOptions,
    /** Named in the errors of failed requests. */
    private readonly modelId = "(unnamed)",
    /** Prompts start after the longest prefix an earlier request left in this cache (none: every prompt runs whole). */
    private readonly prefixes?: PromptPrefixes<K>,
  ) {
    this.reporter = new LogprobReporter(tokenizer);
    const hooks = { start: (choice: Choice<K>) => this.start(choice), fail: (jobs: Iterable<Job<K>>, e: unknown) => this.failJobs(jobs, e) };
    this.prefill = new PromptPrefill(model, this.reporter, options.prefillChunk, hooks, prefixes);
    this.maxRows = model.supportsPadding ? Math.max(1, options.maxBatch) : 1;
    this.batch = new DecodeBatch(model, (rows, error) => this.failJobs(rows.map((c) => c.job), error));
    this.budget = new KvBudget(options.kvCacheBytes ?? Number.POSITIVE_INFINITY, model.kvBytesPerPosition ?? 0);
    // Cached prefixes keep to what the running sequences leave of the cache budget.
    prefixes?.limit(() => this.budget.spareBytes);
  }

  /**
   * Queues a request, taking as many places in the batch as are free now; throws QueueFullError when the rest would
   * have to wait behind a full wait queue.
   */
  submit(request: GenerationJob): { cancel(): void } {
    if (this.closed) throw new Error("the model is being unloaded");
    const job = createJob<K>(request);
    this.queue.push(job);
    this.admit();
    if (job.admitted === 0 && this.queue.length > this.options.maxQueue) {
      this.queue.pop();
      throw new QueueFullError(this.queue.length);
    }
    this.wake();
    return { cancel: () => this.cancel(job) };
  }

  stats(): SchedulerStats {
    const kv = this.batch.kv;
    return {
      rows: this.batch.rows.length,
      prefilling: this.prefill.waitingChoices(),
      queued: this.queue.length,
      packs: this.batch.packs,
      cachedTokens: this.prefixes?.stats().hitTokens ?? 0,
      ...this.counters,
      prefillTokens: this.prefill.tokens,
      kvCacheBytes: kv ? kv.rows * kv.width * this.budget.bytesPerPosition : 0,
      kvCacheReservedBytes: this.budget.reservedBytes,
      kvCacheLimitBytes: Number.isFinite(this.budget.limitBytes) ? this.budget.limitBytes : null,
    };
  }

  /**
   * Stops every request (their sinks get `fail`) and refuses new ones; resolves once the step in flight, if any, has
   * finished, after which the model's session may be released.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.abandon(this.jobsInFlight(), new Error("the model was unloaded"));
    await this.stopped;
  }

  private jobsInFlight(): Set<Job<K>> {
    const jobs = new Set([...this.queue, ...this.batch.rows.map((c) => c.job), ...this.joining.map((c) => c.job)]);
    for (const group of this.prefill.groups) for (const c of group.choices) jobs.add(c.job);
    return jobs;
  }

  private cancel(job: Job<K>): void {
    if (job.cancelled || job.open === 0) return;
    job.cancelled = true;
    this.outbox.drop(job);
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    for (const choice of job.choices) {
      if (choice.state === "done") continue;
      if (choice.state !== "queued") this.counters.cancelled++;
      this.end(choice);
    }
  }

  /** A choice leaves: its batch row (if any) goes at the next pack, and its request completes with its last choice. */
  private end(choice: Choice<K>): void {
    if (choice.state === "prefill" || choice.state === "active") this.occupied--;
    this.budget.release(choice);
    choice.state = "done";
    choice.source = undefined;
    const job = choice.job;
    if (--job.open > 0) return;
    this.outbox.deliver(job);
    job.sink.done(generatedTokens(job), job.cachedTokens);
  }

  private wake(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.prefill.groups.length > 0 || this.joining.length > 0 || this.batch.rows.length > 0) {
        try {
          this.admit();
          await this.prefill.phase();
          // First tokens go out now, not after the decode step that follows (time to first token).
          this.outbox.flush();
          this.prefixes?.store();
          await this.decodePhase();
          this.outbox.flush();
        } catch (error) {
          // A fault the steps do not pin on one request: this model's requests fail, the next ones start afresh.
          this.failJobs(this.jobsInFlight(), error);
          this.reset();
        }
        // Lets cancellations and new requests in between iterations even when no run yielded.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.running = false;
    }
  }

  private reset(): void {
    this.queue.length = 0;
    this.prefill.clear();
    this.joining.length = 0;
    this.batch.clear();
    this.prefixes?.discard();
    this.budget.clear();
    this.occupied = 0;
  }

  /**
   * Takes waiting choices, first come first served, while the batch has a free row and the cache budget room for the
   * positions the choice may come to hold; the first that does not fit waits (and everything behind it).
   */
  private admit(): void {
    while (this.queue.length > 0 && this.occupied < this.maxRows) {
      const job = this.queue[0]!;
      const choice = job.choices[job.admitted]!;
      if (choice.state === "queued") {
        const positions = choice.group.ids.length + choice.params.maxTokens;
        if (!this.budget.fits(positions)) return;
        this.budget.take(choice, positions);
      }
      job.admitted++;
      if (job.admitted === job.choices.length) this.queue.shift();
      if (choice.state !== "queued") continue;
      choice.state = "prefill";
      this.occupied++;
      const group = choice.group;
      if (group.logits) this.start(choice);
      else job.cachedTokens += this.prefill.add(group);
      // Cached prefixes give way to the sequence just admitted (after its own prefix was taken from them).
      this.prefixes?.shrinkTo(this.budget.spareBytes);
    }
  }

  /** A prefilled choice samples its first token from the prompt's logits, then waits to join the batch. */
  private start(choice: Choice<K>): void {
    const group = choice.group;
    choice.length = group.ids.length;
    const ok = this.step(choice, () => {
      choice.seq = new Sequence(choice.params, this.eosIds, this.reporter, group.ids);
      const opening = choice.seq.begin(group.echo);
      return choice.seq.finished ? opening : [...opening, ...choice.seq.advance(group.logits!)];
    });
    if (ok && !choice.seq!.finished) {
      choice.state = "active";
      choice.source = { kv: group.kv!, row: group.row };
      this.joining.push(choice);
    } else if (ok) this.end(choice);
    if (!awaitsPrefill(group)) {
      group.kv = undefined;
      group.logits = undefined;
    }
  }

  /**
   * Runs one row's share of a step (sampling, stop matching, detokenizing) and queues its events. An exception there
   * fails that row's request alone; returns whether the row goes on.
   */
  private step(choice: Choice<K>, advance: () => SequenceEvent[]): boolean {
    let events: SequenceEvent[];
    try {
      events = advance();
    } catch (error) {
      this.failJobs([choice.job], error);
      return false;
    }
    this.counters.generatedTokens++;
    this.outbox.add(choice, events);
    return true;
  }

  private async decodePhase(): Promise<void> {
    this.batch.update(this.joining.splice(0));
    const { rows, kv } = this.batch;
    if (rows.length === 0 || !kv) return;
    let out: StepOutput<K>;
    try {
      out = await this.model.decode(kv, rows.map((c) => c.seq!.lastToken), rows.map((c) => c.length));
    } catch (error) {
      this.batch.clear();
      return this.failJobs(rows.map((c) => c.job), error);
    }
    this.batch.kv = out.kv;
    this.counters.steps++;
    this.counters.peakRows = Math.max(this.counters.peakRows, rows.length);
    this.onStep?.(rows.length);
    const vocab = this.model.vocabSize;
    rows.forEach((choice, r) => {
      choice.length++;
      if (choice.state !== "active") return; // cancelled or failed while the step ran
      const ok = this.step(choice, () => choice.seq!.advance(out.logits.subarray(r * vocab, (r + 1) * vocab)));
      if (ok && choice.seq!.finished) this.end(choice);
    });
    if (rows.every((c) => c.state !== "active")) this.batch.clear();
  }

  /** Ends these requests with a GenerationError naming the model and the cause; their places are freed. */
  private failJobs(jobs: Iterable<Job<K>>, cause: unknown): void {
    this.abandon(jobs, cause instanceof GenerationError ? cause : GenerationError.from(this.modelId, cause));
  }

  /** Ends these requests with `error`, freeing their places. */
  private abandon(jobs: Iterable<Job<K>>, error: unknown): void {
    for (const job of new Set(jobs)) {
      if (job.open === 0) continue;
      this.counters.failed++;
      this.outbox.drop(job);
      const sink = EventOutbox.detach(job);
      this.cancel(job);
      sink.fail(error);
    }
  }
}

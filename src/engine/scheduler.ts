import type { BatchModel, KvShape, RowSource, StepOutput } from "./batch-model.ts";
import type { TokenDecoder } from "./detokenizer.ts";
import { QueueFullError } from "./errors.ts";
import type { ChoiceEvent, GenerationJob, JobSink, SchedulerOptions, SchedulerStats } from "./generation-job.ts";
import { Sequence, type SequenceEvent, type SequenceParams } from "./sequence.ts";

interface Group<K> {
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
}

interface Choice<K> {
  job: Job<K>;
  index: number;
  group: Group<K>;
  params: SequenceParams;
  state: "queued" | "prefill" | "active" | "done";
  seq?: Sequence;
  /** Positions of this choice in the cache it sits in. */
  length: number;
  /** Set while joining: the prompt's cache (a row of a block), before it is packed into the batch. */
  source?: { kv: K; row: number };
}

interface Job<K> {
  sink: JobSink;
  choices: Choice<K>[];
  admitted: number;
  open: number;
  cancelled: boolean;
  pending: ChoiceEvent[];
}

/**
 * Continuous batching for one loaded model (llama.cpp's slots, vLLM's step scheduler). Every iteration: admit
 * waiting choices first come first served while the batch has room, run at most `prefillChunk` prompt tokens, then
 * decode one token for every active choice in one batched run. The cache is re-packed only when a choice joins or
 * leaves; otherwise each step's output cache is the next step's input as it is.
 */
export class Scheduler<K extends KvShape> {
  private readonly queue: Job<K>[] = [];
  private readonly prefilling: Group<K>[] = [];
  private readonly joining: Choice<K>[] = [];
  /** Requests with events not yet handed to their sink. */
  private readonly dirty = new Set<Job<K>>();
  private rows: Choice<K>[] = [];
  private kv: K | undefined;
  private occupied = 0;
  private running = false;
  /** Settles when the loop has stopped: no run of the model is in flight or scheduled then. */
  private stopped: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly maxRows: number;
  private readonly counters = { steps: 0, generatedTokens: 0, prefillTokens: 0, packs: 0, cancelled: 0, peakRows: 0 };

  constructor(
    private readonly model: BatchModel<K>,
    private readonly tokenizer: TokenDecoder,
    private readonly eosIds: ReadonlySet<number>,
    private readonly options: SchedulerOptions,
  ) {
    this.maxRows = model.supportsPadding ? Math.max(1, options.maxBatch) : 1;
  }

  /**
   * Queues a request, taking as many places in the batch as are free now; throws QueueFullError when the rest would
   * have to wait behind a full wait queue.
   */
  submit(request: GenerationJob): { cancel(): void } {
    if (this.closed) throw new Error("the model is being unloaded");
    const job: Job<K> = { sink: request.sink, choices: [], admitted: 0, open: request.choices.length, cancelled: false, pending: [] };
    const groups = request.prompts.map((ids): Group<K> => ({ ids, kv: undefined, row: 0, prefilled: 0, choices: [] }));
    request.choices.forEach(({ prompt, params }, index) => {
      const group = groups[prompt]!;
      const choice: Choice<K> = { job, index, group, params, state: "queued", length: 0 };
      group.choices.push(choice);
      job.choices.push(choice);
    });
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
    const prefilling = this.prefilling.reduce((n, g) => n + g.choices.filter((c) => c.state === "prefill").length, 0);
    return { rows: this.rows.length, prefilling, queued: this.queue.length, ...this.counters };
  }

  /**
   * Stops every request (their sinks get `fail`) and refuses new ones; resolves once the step in flight, if any, has
   * finished, after which the model's session may be released.
   */
  async close(): Promise<void> {
    this.closed = true;
    const jobs = new Set([...this.queue, ...this.rows.map((c) => c.job), ...this.joining.map((c) => c.job)]);
    for (const group of this.prefilling) for (const c of group.choices) jobs.add(c.job);
    this.fail(jobs, new Error("the model was unloaded"));
    await this.stopped;
  }

  private cancel(job: Job<K>): void {
    if (job.cancelled || job.open === 0) return;
    job.cancelled = true;
    job.pending = [];
    this.dirty.delete(job);
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
    choice.state = "done";
    choice.source = undefined;
    const job = choice.job;
    if (--job.open > 0) return;
    this.deliver(job);
    job.sink.done(job.choices.reduce((sum, c) => sum + (c.seq?.generated ?? 0), 0));
  }

  private wake(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.prefilling.length > 0 || this.joining.length > 0 || this.rows.length > 0) {
        this.admit();
        await this.prefillPhase();
        // First tokens go out now, not after the decode step that follows (time to first token).
        this.flush();
        await this.decodePhase();
        this.flush();
        // Lets cancellations and new requests in between iterations even when no run yielded.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.running = false;
    }
  }

  private admit(): void {
    while (this.queue.length > 0 && this.occupied < this.maxRows) {
      const job = this.queue[0]!;
      const choice = job.choices[job.admitted++]!;
      if (job.admitted === job.choices.length) this.queue.shift();
      if (choice.state !== "queued") continue;
      choice.state = "prefill";
      this.occupied++;
      const group = choice.group;
      if (group.logits) this.start(choice);
      else if (!this.prefilling.includes(group)) this.prefilling.push(group);
    }
  }

  /**
   * Runs prompt chunks, oldest prompt first, up to `prefillChunk` real tokens (at least one chunk). The chunks that fit
   * run together in one left-padded batch when the model takes padding. Prompts admitted while a batch runs are taken
   * in the same phase, so requests that arrive together join the batch together.
   */
  private async prefillPhase(): Promise<void> {
    const chunk = Math.max(1, this.options.prefillChunk);
    let used = 0;
    for (;;) {
      for (let i = this.prefilling.length - 1; i >= 0; i--) {
        const waiting = this.prefilling[i]!.choices.some((c) => c.state === "prefill" || c.state === "queued");
        if (!waiting) this.prefilling.splice(i, 1);
      }
      const batch: { group: Group<K>; ids: readonly number[] }[] = [];
      let full = false;
      for (const group of this.prefilling) {
        // Chunk boundaries depend on the prompt alone, so a prompt's numbers never depend on other traffic.
        const ids = group.ids.slice(group.prefilled, group.prefilled + chunk);
        if (used > 0 && used + ids.length > chunk) {
          full = true;
          break;
        }
        if (batch.length > 0 && !this.fits([...batch, { group, ids }])) break;
        batch.push({ group, ids });
        used += ids.length;
        if (!this.model.supportsPadding) break;
      }
      if (batch.length === 0) return;
      await this.prefillRows(batch);
      if (full) return;
    }
  }

  /**
   * Whether chunks can share a padded run: a prompt with cached positions must have as many new tokens as the longest
   * chunk, or padding would sit between its cached and its new positions.
   */
  private fits(batch: ReadonlyArray<{ group: Group<K>; ids: readonly number[] }>): boolean {
    const longest = Math.max(...batch.map((b) => b.ids.length));
    return batch.every((b) => b.group.prefilled === 0 || b.ids.length === longest);
  }

  private async prefillRows(batch: ReadonlyArray<{ group: Group<K>; ids: readonly number[] }>): Promise<void> {
    let out: StepOutput<K>;
    try {
      if (this.model.supportsPadding) {
        out = await this.model.prefillBatch(
          batch.map(({ group, ids }) => {
            const past: RowSource<K> | undefined = group.kv && { kv: group.kv, row: group.row, length: group.prefilled };
            return { ids, past };
          }),
        );
      } else {
        const { group, ids } = batch[0]!;
        out = await this.model.prefill(ids, group.kv ?? this.model.emptyKv());
      }
    } catch (error) {
      const jobs = new Set<Job<K>>();
      for (const { group } of batch) {
        const at = this.prefilling.indexOf(group);
        if (at >= 0) this.prefilling.splice(at, 1);
        for (const c of group.choices) jobs.add(c.job);
      }
      return this.fail(jobs, error);
    }
    const vocab = this.model.vocabSize;
    batch.forEach(({ group, ids }, r) => {
      group.kv = out.kv;
      group.row = r;
      group.prefilled += ids.length;
      this.counters.prefillTokens += ids.length;
      if (group.prefilled < group.ids.length) return;
      group.logits = out.logits.subarray(r * vocab, (r + 1) * vocab);
      const at = this.prefilling.indexOf(group);
      if (at >= 0) this.prefilling.splice(at, 1);
      for (const choice of group.choices) if (choice.state === "prefill") this.start(choice);
    });
  }

  /** A prefilled choice samples its first token from the prompt's logits, then waits to join the batch. */
  private start(choice: Choice<K>): void {
    const group = choice.group;
    choice.seq = new Sequence(choice.params, this.eosIds, this.tokenizer, group.ids);
    choice.length = group.ids.length;
    this.emit(choice, choice.seq.advance(group.logits!));
    if (choice.seq.finished) return this.end(choice);
    choice.state = "active";
    choice.source = { kv: group.kv!, row: group.row };
    this.joining.push(choice);
    if (!group.choices.some((c) => c.state === "queued" || c.state === "prefill")) {
      group.kv = undefined;
      group.logits = undefined;
    }
  }

  private async decodePhase(): Promise<void> {
    const joining = this.joining.splice(0).filter((c) => c.state === "active");
    const kept = this.rows.map((c, row) => ({ c, row })).filter(({ c }) => c.state === "active");
    if (joining.length > 0 || kept.length < this.rows.length) {
      this.rows = [...kept.map(({ c }) => c), ...joining];
      if (this.rows.length === 0) this.kv = undefined;
      else {
        const sources = kept.map(({ c, row }) => ({ kv: this.kv!, row, length: c.length }));
        for (const c of joining) sources.push({ ...c.source!, length: c.length });
        this.kv = this.model.pack(sources);
        this.counters.packs++;
      }
      for (const c of joining) c.source = undefined;
    }
    if (this.rows.length === 0 || !this.kv) return;
    const rows = this.rows;
    let out: StepOutput<K>;
    try {
      out = await this.model.decode(this.kv, rows.map((c) => c.seq!.lastToken), rows.map((c) => c.length));
    } catch (error) {
      this.rows = [];
      this.kv = undefined;
      return this.fail(new Set(rows.map((c) => c.job)), error);
    }
    this.kv = out.kv;
    this.counters.steps++;
    this.counters.peakRows = Math.max(this.counters.peakRows, rows.length);
    const vocab = this.model.vocabSize;
    rows.forEach((choice, r) => {
      choice.length++;
      if (choice.state !== "active") return; // cancelled while the step ran
      this.emit(choice, choice.seq!.advance(out.logits.subarray(r * vocab, (r + 1) * vocab)));
      if (choice.seq!.finished) this.end(choice);
    });
    if (this.rows.every((c) => c.state !== "active")) {
      this.rows = [];
      this.kv = undefined;
    }
  }

  private emit(choice: Choice<K>, events: readonly SequenceEvent[]): void {
    this.counters.generatedTokens++;
    if (events.length === 0) return;
    for (const e of events) choice.job.pending.push({ ...e, index: choice.index });
    this.dirty.add(choice.job);
  }

  private deliver(job: Job<K>): void {
    this.dirty.delete(job);
    if (job.pending.length === 0) return;
    const events = job.pending;
    job.pending = [];
    job.sink.events(events);
  }

  private flush(): void {
    for (const job of [...this.dirty]) this.deliver(job);
  }

  private fail(jobs: Set<Job<K>>, error: unknown): void {
    for (const job of jobs) {
      if (job.open === 0) continue;
      job.pending = [];
      const sink = job.sink;
      job.sink = { events() {}, done() {}, fail() {} };
      this.cancel(job);
      sink.fail(error);
    }
  }
}

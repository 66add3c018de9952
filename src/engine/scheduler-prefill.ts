import type { BatchModel, KvShape, StepOutput } from "./batch-model.ts";
import { nextPrefillRun, runPrefill, type PrefillChunk } from "./prefill-plan.ts";
import type { PromptPrefixes } from "./prefix-reuse.ts";
import { scoreChunk } from "./prompt-echo.ts";
import { awaitsPrefill, scoresPrompt, type Choice, type Job, type PromptGroup } from "./scheduler-jobs.ts";
import type { LogprobReporter } from "./token-logprobs.ts";

export interface PrefillHooks<K> {
  /** The prompt is prefilled: each of its choices still waiting for it samples its first token. */
  start(choice: Choice<K>): void;
  /** These requests failed (a failed run, or scoring their prompt); the scheduler ends them with a GenerationError. */
  fail(jobs: Iterable<Job<K>>, error: unknown): void;
}

/**
 * The prompt side of the scheduler: the prompts admitted and waiting for their prefill, run in chunks of at most
 * `prefillChunk` tokens between decode steps, several prompts in one left-padded run when the model takes padding,
 * starting after the longest prefix the prefix cache holds. Echoed prompts with logprobs are scored chunk by chunk.
 */
export class PromptPrefill<K extends KvShape> {
  /** Prompts admitted whose prefill has not finished, oldest first. */
  readonly groups: PromptGroup<K>[] = [];
  /** Prompt tokens run through the model so far. */
  tokens = 0;

  constructor(
    private readonly model: BatchModel<K>,
    private readonly reporter: LogprobReporter,
    private readonly chunkTokens: number,
    private readonly hooks: PrefillHooks<K>,
    private readonly prefixes?: PromptPrefixes<K>,
  ) {}

  /**
   * Queues the prompt (once, whatever number of its choices are admitted); its prefill starts after the longest prefix
   * it can take from the prefix cache, unless each of its tokens is to be scored, which needs every position's
   * logits. Returns the prompt tokens taken from the cache.
   */
  add(group: PromptGroup<K>): number {
    if (this.groups.includes(group)) return 0;
    const cached = scoresPrompt(group) ? 0 : (this.prefixes?.resume(group) ?? 0);
    this.groups.push(group);
    return cached;
  }

  /** Choices whose prompt is being prefilled. */
  waitingChoices(): number {
    return this.groups.reduce((n, g) => n + g.choices.filter((c) => c.state === "prefill").length, 0);
  }

  clear(): void {
    this.groups.length = 0;
  }

  /**
   * Runs prompt chunks, oldest prompt first, up to `prefillChunk` real tokens (at least one chunk). The chunks that fit
   * run together in one left-padded batch when the model takes padding. Prompts admitted while a batch runs are taken
   * in the same phase, so requests that arrive together join the batch together.
   */
  async phase(): Promise<void> {
    const chunk = Math.max(1, this.chunkTokens);
    let used = 0;
    for (;;) {
      for (let i = this.groups.length - 1; i >= 0; i--) {
        if (!awaitsPrefill(this.groups[i]!)) this.groups.splice(i, 1);
      }
      this.resumeWaiting();
      const next = nextPrefillRun(this.groups, chunk, used, this.model.supportsPadding, this.model.batchesResumedPrompts ?? true);
      used = next.used;
      if (next.run.length === 0) return;
      await this.run(next.run);
      if (next.full) return;
    }
  }

  /**
   * A prompt that waited behind others looks in the prefix cache again before its first chunk: a prompt admitted with
   * it may have just stored the prefix they share (requests sent together with the same system prompt or history).
   */
  private resumeWaiting(): void {
    if (!this.prefixes) return;
    for (const group of this.groups) {
      if (group.prefilled > 0 || group.kv || scoresPrompt(group)) continue;
      const cached = this.prefixes.resume(group);
      if (cached > 0) for (const job of new Set(group.choices.map((c) => c.job))) job.cachedTokens += cached;
      // Only the oldest waiting prompt can start in this run; the others look again when their turn comes.
      return;
    }
  }

  private async run(run: readonly PrefillChunk<K>[]): Promise<void> {
    let out: StepOutput<K>;
    const scoring = run.length === 1 && scoresPrompt(run[0]!.group);
    try {
      out = await runPrefill(this.model, run, scoring);
    } catch (error) {
      const jobs = new Set<Job<K>>();
      for (const { group } of run) {
        this.forget(group);
        for (const c of group.choices) jobs.add(c.job);
      }
      return this.hooks.fail(jobs, error);
    }
    const vocab = this.model.vocabSize;
    if (scoring && !this.score(run[0]!, out.logits)) return;
    run.forEach(({ group, ids }, r) => {
      group.kv = out.kv;
      group.row = r;
      group.prefilled += ids.length;
      this.tokens += ids.length;
      if (group.prefilled < group.ids.length) return;
      const at = scoring ? ids.length - 1 : r;
      group.logits = out.logits.subarray(at * vocab, (at + 1) * vocab);
      this.prefixes?.remember(group.ids, out.kv, r);
      this.forget(group);
      for (const choice of group.choices) if (choice.state === "prefill") this.hooks.start(choice);
    });
  }

  /** Scores the prompt tokens this chunk predicts; a failure there fails the prompt's requests alone. */
  private score({ group, ids }: PrefillChunk<K>, logits: Float32Array): boolean {
    try {
      scoreChunk(group.echo!, group.ids, group.prefilled, ids.length, logits, this.model.vocabSize, this.reporter);
      return true;
    } catch (error) {
      this.forget(group);
      this.hooks.fail(new Set(group.choices.map((c) => c.job)), error);
      return false;
    }
  }

  private forget(group: PromptGroup<K>): void {
    const at = this.groups.indexOf(group);
    if (at >= 0) this.groups.splice(at, 1);
  }
}

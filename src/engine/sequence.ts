import type { TokenConstraint } from "./constraints/token-constraint.ts";
import { IncrementalDetokenizer } from "./detokenizer.ts";
import { Sampler, type SamplingParams } from "./sampler.ts";
import { StopMatcher } from "./stop-matcher.ts";
import type { LogprobReporter, TokenLogprob } from "./token-logprobs.ts";

export type FinishReason = "stop" | "length";

export interface SequenceParams {
  /** 0 only with `echo`: the prompt is scored and nothing is generated. */
  maxTokens: number;
  sampling: SamplingParams;
  stop: readonly string[];
  /** Report every token's log-probability with this many most likely alternatives (0–20); absent: none. */
  logprobs?: number;
  /** Output the prompt (and its tokens' logprobs, when asked) before the generated text. */
  echo?: boolean;
  /** Structured output: starts this row's constraint state (src/engine/constraints/). */
  constraint?: { start(): TokenConstraint };
}

/**
 * A text event's `logprobs` are those of the tokens sampled in its step, whether their text shows yet or not; one
 * marked `prompt` is the echoed prompt, before any generated text. `stopSequence`: the stop string that ended the
 * choice, when one did (Anthropic's `stop_sequence` reports it).
 */
export type SequenceEvent =
  | { kind: "text"; text: string; logprobs?: TokenLogprob[]; prompt?: true }
  | { kind: "finish"; reason: FinishReason; stopSequence?: string };

/**
 * The per-choice half of generation: everything that depends on one choice's own history and settings (sampler with
 * its seed and penalty history, detokenizer, stop strings, token budget), none of it on the batch the choice runs in,
 * so a choice's output is the same alone and batched.
 */
export class Sequence {
  private readonly sampler: Sampler;
  private readonly detokenizer: IncrementalDetokenizer;
  private readonly stops: StopMatcher;
  private readonly constraint: TokenConstraint | undefined;
  private generatedCount = 0;
  private finishReason: FinishReason | undefined;
  /** The token sampled last, which the next step feeds to the model. */
  lastToken = -1;

  constructor(
    private readonly params: SequenceParams,
    private readonly eosIds: ReadonlySet<number>,
    private readonly reporter: LogprobReporter,
    promptIds: readonly number[],
  ) {
    this.sampler = new Sampler(params.sampling, promptIds);
    this.detokenizer = new IncrementalDetokenizer(reporter.tokenizer, promptIds);
    this.stops = new StopMatcher(params.stop);
    this.constraint = params.constraint?.start();
  }

  get generated(): number {
    return this.generatedCount;
  }

  get finished(): boolean {
    return this.finishReason !== undefined;
  }

  /**
   * What the client sees before the first sampled token: the echoed prompt with its logprobs (`prompt`, when
   * scored), and the end of a request that only scores (`maxTokens` 0).
   */
  begin(echo: { text: string; logprobs?: readonly TokenLogprob[] } | undefined): SequenceEvent[] {
    const events: SequenceEvent[] = [];
    if (this.params.echo && echo) {
      const logprobs = this.params.logprobs === undefined ? undefined : echo.logprobs?.map((t) => this.trimmed(t));
      events.push(logprobs ? { kind: "text", text: echo.text, logprobs, prompt: true } : { kind: "text", text: echo.text, prompt: true });
    }
    if (this.params.maxTokens === 0) {
      this.finishReason = "length";
      events.push({ kind: "finish", reason: "length" });
    }
    return events;
  }

  /**
   * Samples the next token from this sequence's logits and returns what the client sees for it. An EOS id ends the
   * sequence (and is not shown, nor given a logprob), a stop string ends it (never shown), `maxTokens` ends it with
   * "length".
   */
  advance(logits: Float32Array): SequenceEvent[] {
    if (this.finished) throw new Error("sequence already finished");
    const constraint = this.constraint;
    const remaining = this.params.maxTokens - this.generatedCount;
    const token = this.sampler.sample(logits, constraint && { apply: (x) => constraint.apply(x, remaining) });
    this.generatedCount++;
    this.lastToken = token;
    constraint?.accept(token);
    if (this.eosIds.has(token)) return this.finish("stop");
    const top = this.params.logprobs;
    const logprobs = top === undefined ? undefined : [this.reporter.report(logits, token, top)];
    const piece = this.stops.push(this.detokenizer.push(token));
    const events: SequenceEvent[] = [];
    if (piece.text || logprobs) events.push(logprobs ? { kind: "text", text: piece.text, logprobs } : { kind: "text", text: piece.text });
    if (piece.stopped) {
      this.finishReason = "stop";
      events.push({ kind: "finish", reason: "stop", ...this.stopSequence() });
      return events;
    }
    // A constrained output that nothing may follow ends here, without spending a step on EOS.
    if (constraint?.complete) events.push(...this.finish("stop"));
    else if (this.generatedCount >= this.params.maxTokens) events.push(...this.finish("length"));
    return events;
  }

  /** A prompt is scored once for all its choices, with as many alternatives as the most demanding one asked. */
  private trimmed(token: TokenLogprob): TokenLogprob {
    const k = this.params.logprobs ?? 0;
    return token.top && token.top.length > k ? { ...token, top: token.top.slice(0, k) } : token;
  }

  private finish(reason: FinishReason): SequenceEvent[] {
    const tail = this.stops.push(this.detokenizer.flush());
    const text = tail.stopped ? tail.text : tail.text + this.stops.flush();
    this.finishReason = tail.stopped ? "stop" : reason;
    const events: SequenceEvent[] = text ? [{ kind: "text", text }] : [];
    events.push({ kind: "finish", reason: this.finishReason, ...this.stopSequence() });
    return events;
  }

  private stopSequence(): { stopSequence?: string } {
    return this.stops.matched === undefined ? {} : { stopSequence: this.stops.matched };
  }
}

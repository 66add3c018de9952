import { IncrementalDetokenizer, type TokenDecoder } from "./detokenizer.ts";
import { Sampler, type SamplingParams } from "./sampler.ts";
import { StopMatcher } from "./stop-matcher.ts";

export type FinishReason = "stop" | "length";

export interface SequenceParams {
  maxTokens: number;
  sampling: SamplingParams;
  stop: readonly string[];
}

export type SequenceEvent = { kind: "text"; text: string } | { kind: "finish"; reason: FinishReason };

/**
 * The per-choice half of generation: everything that depends on one choice's own history and settings (sampler and
 * its seed, detokenizer, stop strings, token budget), none of it on the batch the choice runs in, so a choice's
 * output is the same alone and batched.
 */
export class Sequence {
  private readonly sampler: Sampler;
  private readonly detokenizer: IncrementalDetokenizer;
  private readonly stops: StopMatcher;
  private generatedCount = 0;
  private finishReason: FinishReason | undefined;
  /** The token sampled last, which the next step feeds to the model. */
  lastToken = -1;

  constructor(
    private readonly params: SequenceParams,
    private readonly eosIds: ReadonlySet<number>,
    tokenizer: TokenDecoder,
    promptIds: readonly number[],
  ) {
    this.sampler = new Sampler(params.sampling);
    this.detokenizer = new IncrementalDetokenizer(tokenizer, promptIds);
    this.stops = new StopMatcher(params.stop);
  }

  get generated(): number {
    return this.generatedCount;
  }

  get finished(): boolean {
    return this.finishReason !== undefined;
  }

  /**
   * Samples the next token from this sequence's logits and returns what the client sees for it. An EOS id ends the
   * sequence (and is not shown), a stop string ends it (never shown), `maxTokens` ends it with "length".
   */
  advance(logits: Float32Array): SequenceEvent[] {
    if (this.finished) throw new Error("sequence already finished");
    const token = this.sampler.sample(logits);
    this.generatedCount++;
    this.lastToken = token;
    if (this.eosIds.has(token)) return this.finish("stop");
    const piece = this.stops.push(this.detokenizer.push(token));
    const events: SequenceEvent[] = piece.text ? [{ kind: "text", text: piece.text }] : [];
    if (piece.stopped) {
      this.finishReason = "stop";
      events.push({ kind: "finish", reason: "stop" });
      return events;
    }
    if (this.generatedCount >= this.params.maxTokens) events.push(...this.finish("length"));
    return events;
  }

  private finish(reason: FinishReason): SequenceEvent[] {
    const tail = this.stops.push(this.detokenizer.flush());
    const text = tail.stopped ? tail.text : tail.text + this.stops.flush();
    this.finishReason = tail.stopped ? "stop" : reason;
    const events: SequenceEvent[] = text ? [{ kind: "text", text }] : [];
    events.push({ kind: "finish", reason: this.finishReason });
    return events;
  }
}

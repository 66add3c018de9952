/**
 * The stages of the sampling chain that rewrite logits before any filter: logit bias and the three penalties, in
 * the order vLLM applies them (bias, then repetition, frequency and presence penalties). Each works in place on the
 * sampler's own copy of a row's logits and touches only the ids it names, never the whole vocabulary.
 */

export interface PenaltyParams {
  /** OpenAI's: subtracted once from every token generated so far (-2 … 2). */
  presencePenalty: number;
  /** OpenAI's: subtracted once per occurrence in the tokens generated so far (-2 … 2). */
  frequencyPenalty: number;
  /** vLLM's and llama.cpp's: positive logits of any token seen (prompt or output) are divided by it, negative ones multiplied. 1 is off. */
  repetitionPenalty: number;
}

/** What a sequence has seen, for the penalties: its prompt's ids and how often it generated each id. */
export class TokenHistory {
  readonly generated = new Map<number, number>();
  private readonly prompt: ReadonlySet<number>;

  constructor(promptIds: readonly number[]) {
    this.prompt = new Set(promptIds);
  }

  add(token: number): void {
    this.generated.set(token, (this.generated.get(token) ?? 0) + 1);
  }

  /** Every id in the prompt or the output, once. */
  *seen(): Iterable<number> {
    yield* this.prompt;
    for (const id of this.generated.keys()) if (!this.prompt.has(id)) yield id;
  }
}

/** Adds each bias to its token's logit (ids were checked against the vocabulary when the request was planned). */
export function applyLogitBias(logits: Float32Array, bias: ReadonlyArray<readonly [number, number]>): void {
  for (const [id, value] of bias) logits[id] = logits[id]! + value;
}

/**
 * OpenAI's formula, `logit[j] -= c[j] * frequency_penalty + (c[j] > 0) * presence_penalty` over the generated counts
 * c, after vLLM's multiplicative repetition penalty over every token seen.
 */
export function applyPenalties(logits: Float32Array, history: TokenHistory, params: PenaltyParams): void {
  const { presencePenalty, frequencyPenalty, repetitionPenalty } = params;
  if (repetitionPenalty !== 1) {
    for (const id of history.seen()) {
      const x = logits[id]!;
      logits[id] = x > 0 ? x / repetitionPenalty : x * repetitionPenalty;
    }
  }
  if (presencePenalty === 0 && frequencyPenalty === 0) return;
  for (const [id, count] of history.generated) logits[id] = logits[id]! - (count * frequencyPenalty + presencePenalty);
}

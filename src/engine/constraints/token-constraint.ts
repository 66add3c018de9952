import type { Grammar } from "./grammar.ts";
import { DEAD, GrammarMatcher } from "./grammar-matcher.ts";
import { TokenMasks } from "./token-masks.ts";
import type { TokenTrie } from "./token-trie.ts";

/**
 * What a sequence asks of its constraint each step (the sampler chain's mask stage): which tokens may come next,
 * then which one came. State is per row; everything derived from the grammar and vocabulary is shared.
 */
export interface TokenConstraint {
  /**
   * `logits` with every token that would break the output set to -Infinity, as a new array (the caller's is left
   * alone: it may be shared by the `n` choices of a prompt). `remaining`: tokens this row may still generate,
   * this one included; tokens after which the output could no longer close within that budget are refused too.
   */
  mask(logits: Float32Array, remaining: number): Float32Array;
  accept(token: number): void;
  /** The output is complete and nothing may follow it: the row stops without spending a token on EOS. */
  readonly complete: boolean;
}

/** A compiled constraint, shared by every row (and request) that uses the same grammar on the same vocabulary. */
export class CompiledConstraint {
  readonly matcher: GrammarMatcher;
  readonly masks: TokenMasks;

  constructor(
    readonly grammar: Grammar,
    readonly trie: TokenTrie,
  ) {
    this.matcher = new GrammarMatcher(grammar);
    this.masks = new TokenMasks(this.matcher, trie);
  }

  start(): TokenConstraint {
    return new GrammarConstraint(this);
  }
}

class GrammarConstraint implements TokenConstraint {
  private state: number;
  private scratch: Float32Array | undefined;

  constructor(private readonly compiled: CompiledConstraint) {
    this.state = compiled.matcher.initial;
  }

  get complete(): boolean {
    return this.compiled.matcher.closed(this.state);
  }

  mask(logits: Float32Array, remaining: number): Float32Array {
    const { matcher, masks, trie } = this.compiled;
    if (!this.scratch || this.scratch.length !== logits.length) this.scratch = new Float32Array(logits.length);
    const out = this.scratch;
    out.fill(-Infinity);
    const { ids, distances, maxDistance } = masks.get(this.state);
    const n = ids.length;
    // After this token `remaining - 1` remain, and each closes at least one character.
    const limit = remaining - 1;
    let allowed = 0;
    if (maxDistance <= limit) {
      for (let k = 0; k < n; k++) {
        const id = ids[k]!;
        if (id < out.length) out[id] = logits[id]!;
      }
      allowed = n;
    } else {
      for (let k = 0; k < n; k++) {
        const id = ids[k]!;
        if (distances[k]! <= limit && id < out.length) {
          out[id] = logits[id]!;
          allowed++;
        }
      }
    }
    const accepts = matcher.accepts(this.state);
    if (accepts) for (const id of trie.eosIds) if (id < out.length) out[id] = logits[id]!;
    // Out of budget with no closing token: a valid prefix that runs out ("length") beats no output at all.
    if (allowed === 0 && !accepts) for (const id of ids) if (id < out.length) out[id] = logits[id]!;
    return out;
  }

  accept(token: number): void {
    if (this.compiled.trie.eosIds.has(token)) return;
    const cps = this.compiled.trie.codePoints[token];
    if (!cps) throw new Error(`token ${token} is outside the constrained vocabulary`);
    let state = this.state;
    for (const cp of cps) {
      state = this.compiled.matcher.step(state, cp);
      if (state === DEAD) throw new Error(`token ${token} breaks the constraint`);
    }
    this.state = state;
  }
}

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
   * Sets every token that would break the output to -Infinity, in place (the sampler's own copy of the row).
   * `remaining`: tokens this row may still generate, this one included; tokens after which the output could no
   * longer close within that budget are refused too.
   */
  apply(logits: Float32Array, remaining: number): void;
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
  private keptIds: Int32Array | undefined;
  private keptValues: Float32Array | undefined;

  constructor(private readonly compiled: CompiledConstraint) {
    this.state = compiled.matcher.initial;
  }

  get complete(): boolean {
    return this.compiled.matcher.closed(this.state);
  }

  apply(logits: Float32Array, remaining: number): void {
    const { matcher, masks, trie } = this.compiled;
    const { ids, distances, maxDistance } = masks.get(this.state);
    const accepts = matcher.accepts(this.state);
    const size = ids.length + trie.eosIds.size;
    if (!this.keptIds || this.keptIds.length < size) {
      this.keptIds = new Int32Array(size);
      this.keptValues = new Float32Array(size);
    }
    const keptIds = this.keptIds;
    const keptValues = this.keptValues!;
    let kept = 0;
    const keep = (id: number) => {
      if (id >= logits.length) return;
      keptIds[kept] = id;
      keptValues[kept++] = logits[id]!;
    };
    // After this token `remaining - 1` remain, and each closes at least one character.
    const limit = remaining - 1;
    if (maxDistance <= limit) for (let k = 0; k < ids.length; k++) keep(ids[k]!);
    else for (let k = 0; k < ids.length; k++) if (distances[k]! <= limit) keep(ids[k]!);
    // Out of budget with no closing token: a valid prefix that runs out ("length") beats no output at all.
    if (kept === 0 && !accepts) for (let k = 0; k < ids.length; k++) keep(ids[k]!);
    if (accepts) for (const id of trie.eosIds) keep(id);
    logits.fill(-Infinity);
    for (let k = 0; k < kept; k++) logits[keptIds[k]!] = keptValues[k]!;
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

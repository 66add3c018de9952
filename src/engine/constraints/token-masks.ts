import { DEAD, type GrammarMatcher } from "./grammar-matcher.ts";
import type { TokenTrie } from "./token-trie.ts";

/** The tokens a grammar state allows, each with the fewest characters still needed after it. */
export interface StateMask {
  ids: Int32Array;
  distances: Uint32Array;
  /** The largest of `distances` (0 when none). */
  maxDistance: number;
}

/** Mask memory kept per compiled constraint; beyond it the least recently used masks are recomputed when needed. */
const MASK_BUDGET_BYTES = 64 * 1024 * 1024;

/**
 * Intersects a grammar with a vocabulary: the mask of a state is computed once by walking the token trie alongside
 * the matcher, then kept (least recently used masks dropped beyond a byte budget).
 */
export class TokenMasks {
  private readonly cache = new Map<number, StateMask>();
  private bytes = 0;
  private ids: Int32Array;
  private distances: Uint32Array;
  private count = 0;

  constructor(
    readonly matcher: GrammarMatcher,
    readonly trie: TokenTrie,
  ) {
    this.ids = new Int32Array(trie.size);
    this.distances = new Uint32Array(trie.size);
  }

  get(state: number): StateMask {
    const known = this.cache.get(state);
    if (known) {
      this.cache.delete(state);
      this.cache.set(state, known);
      return known;
    }
    this.count = 0;
    this.walk(0, state);
    const n = this.count;
    let maxDistance = 0;
    for (let k = 0; k < n; k++) if (this.distances[k]! > maxDistance) maxDistance = this.distances[k]!;
    const mask = { ids: this.ids.slice(0, n), distances: this.distances.slice(0, n), maxDistance };
    this.cache.set(state, mask);
    this.bytes += mask.ids.byteLength * 2;
    for (const [key, old] of this.cache) {
      if (this.bytes <= MASK_BUDGET_BYTES || key === state) break;
      this.cache.delete(key);
      this.bytes -= old.ids.byteLength * 2;
    }
    return mask;
  }

  private walk(node: number, state: number): void {
    const t = this.trie;
    const m = this.matcher;
    const end = t.subtreeEnd[node]!;
    for (let child = node + 1; child < end; child = t.subtreeEnd[child]!) {
      const next = m.step(state, t.char[child]!);
      if (next === DEAD) continue;
      const start = t.endStart[child]!;
      const stop = t.endStart[child + 1]!;
      if (start < stop) {
        const d = m.distance(next);
        for (let k = start; k < stop; k++) {
          this.ids[this.count] = t.endIds[k]!;
          this.distances[this.count++] = d;
        }
      }
      this.walk(child, next);
    }
  }
}

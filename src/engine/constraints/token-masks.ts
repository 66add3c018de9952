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
  private readonly ids: number[] = [];
  private readonly distances: number[] = [];

  constructor(
    readonly matcher: GrammarMatcher,
    readonly trie: TokenTrie,
  ) {}

  get(state: number): StateMask {
    const known = this.cache.get(state);
    if (known) {
      this.cache.delete(state);
      this.cache.set(state, known);
      return known;
    }
    this.ids.length = 0;
    this.distances.length = 0;
    this.walk(0, state);
    let maxDistance = 0;
    for (const d of this.distances) if (d > maxDistance) maxDistance = d;
    const mask = { ids: Int32Array.from(this.ids), distances: Uint32Array.from(this.distances), maxDistance };
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
    for (let e = t.edgeStart[node]!, end = t.edgeStart[node + 1]!; e < end; e++) {
      const next = m.step(state, t.edgeChar[e]!);
      if (next === DEAD) continue;
      const child = t.edgeChild[e]!;
      const start = t.endStart[child]!;
      const stop = t.endStart[child + 1]!;
      if (start < stop) {
        const d = m.distance(next);
        for (let k = start; k < stop; k++) {
          this.ids.push(t.endIds[k]!);
          this.distances.push(d);
        }
      }
      this.walk(child, next);
    }
  }
}

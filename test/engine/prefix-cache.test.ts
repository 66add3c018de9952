// The prefix cache on its own: which positions a prompt may reuse, what is stored once, and LRU eviction under the
// byte budget. Segments here are the token ids they stand for, so a match shows exactly which positions it returns.
import { describe, expect, it } from "bun:test";
import { PrefixCache, type KvSegment } from "../../src/engine/prefix-cache.ts";

interface Seg extends KvSegment {
  tokens: number[];
}

const BYTES_PER_TOKEN = 10;
const range = (from: number, length: number) => Array.from({ length }, (_, i) => from + i);

/** Each inserted prompt is one store (its whole cache, as a prefill's output is), and its blocks are views of it. */
function cacheOf(blockTokens: number, budgetTokens: number) {
  const cache = new PrefixCache<Seg>({ blockTokens, budgetBytes: budgetTokens * BYTES_PER_TOKEN });
  const views: Array<[number, number]> = [];
  const insert = (ids: number[]) => {
    const store = { bytes: ids.length * BYTES_PER_TOKEN };
    return cache.insert(ids, (start, end) => {
      views.push([start, end]);
      return { tokens: ids.slice(start, end), store };
    });
  };
  /** The positions a lookup hands back, as the tokens its segments stand for. */
  const reused = (ids: number[]) => {
    const match = cache.lookup(ids);
    return match ? match.segments.flatMap((s) => s.tokens).slice(0, match.length) : [];
  };
  return { cache, insert, reused, views };
}

describe("PrefixCache", () => {
  it("reuses the blocks a prompt shares with a cached one, and leaves at least one token to run", () => {
    const { insert, reused } = cacheOf(4, 1000);
    expect(insert(range(0, 10))).toBe(3); // blocks [0..4), [4..8) and the partial block [8..10)
    expect(reused(range(0, 20))).toEqual(range(0, 10));
    expect(reused(range(0, 10))).toEqual(range(0, 9));
    expect(reused([...range(0, 9), 5])).toEqual(range(0, 9));
    // The second block differs at position 6: its first two positions are still usable.
    expect(reused([...range(0, 6), 99, 98, 97])).toEqual(range(0, 6));
    expect(reused(range(0, 8))).toEqual(range(0, 7)); // the same prompt again: its last token must still run
    expect(reused(range(0, 5))).toEqual(range(0, 4));
    expect(reused(range(0, 3))).toEqual(range(0, 2)); // part of the first block
    expect(reused([1, 2, 3, 4, 5])).toEqual([]);
    expect(reused([0])).toEqual([]);
  });

  it("stores a shared prefix once, in the newest prompt's store, and frees the stores no block refers to", () => {
    const { cache, insert, views } = cacheOf(4, 1000);
    // A chat's history grows turn by turn: each turn's store holds it all, the older stores are freed.
    expect(insert(range(0, 8))).toBe(2);
    expect(insert(range(0, 12))).toBe(1);
    expect(insert(range(0, 17))).toBe(2); // [12..16) and the partial [16..17)
    expect(cache.stats()).toMatchObject({ blocks: 5, bytes: 17 * BYTES_PER_TOKEN });
    expect(views).toHaveLength(2 + 3 + 5);
    // A longer partial block replaces the shorter one it starts with; a shorter one adds nothing.
    expect(insert(range(0, 19))).toBe(1);
    expect(insert(range(0, 18))).toBe(0);
    expect(cache.stats()).toMatchObject({ blocks: 5, bytes: 19 * BYTES_PER_TOKEN, evictedBlocks: 0 });
    // A branch: the shared blocks move to its store, the earlier store stays for the blocks only it has.
    expect(insert([...range(0, 8), 50, 51, 52, 53, 54])).toBe(2);
    expect(cache.stats()).toMatchObject({ blocks: 7, bytes: (19 + 13) * BYTES_PER_TOKEN });
  });

  it("evicts the least recently used leaf blocks first, frees a store with its last block, and keeps the prefixes others extend", () => {
    const { cache, insert, reused } = cacheOf(2, 10);
    insert([1, 1, 2, 2, 3, 3]); // a → b → c, in store P1 (6)
    insert([1, 1, 7, 7]); // a → d; a moves to store P2 (4)
    expect(cache.stats()).toMatchObject({ blocks: 4, bytes: 10 * BYTES_PER_TOKEN });
    reused([1, 1, 2, 2, 3, 3, 0]); // a, b, c used last; d is now the oldest leaf
    // e (2) needs room: d goes (P2 stays, a refers to it), then c and b, the last blocks of P1.
    insert([9, 9]);
    expect(cache.stats()).toMatchObject({ blocks: 2, bytes: 6 * BYTES_PER_TOKEN, evictedBlocks: 3 });
    expect(reused([1, 1, 2, 2, 3, 3, 0])).toEqual([1, 1]);
    expect(reused([1, 1, 7, 7, 0])).toEqual([1, 1]);
    expect(reused([9, 9, 0])).toEqual([9, 9]);
  });

  it("evicts other prompts before the one just stored, and does not cache a store larger than the budget", () => {
    const { cache, insert, reused } = cacheOf(2, 10);
    expect(insert(range(0, 12))).toBe(0);
    expect(cache.stats()).toMatchObject({ blocks: 0, bytes: 0 });
    expect(insert(range(0, 6))).toBe(3);
    expect(insert(range(10, 6))).toBe(3);
    expect(cache.stats()).toMatchObject({ blocks: 3, bytes: 6 * BYTES_PER_TOKEN });
    expect(reused(range(0, 7))).toEqual([]);
    expect(reused(range(10, 7))).toEqual(range(10, 6));
  });

  it("shrinks on demand, least recently used first", () => {
    const { cache, insert, reused } = cacheOf(2, 100);
    insert(range(0, 4));
    insert(range(20, 4));
    insert(range(40, 4));
    reused(range(0, 5));
    cache.shrinkTo(8 * BYTES_PER_TOKEN);
    expect(cache.stats()).toMatchObject({ blocks: 4, bytes: 8 * BYTES_PER_TOKEN });
    expect(reused(range(20, 5))).toEqual([]);
    expect(reused(range(0, 5))).toEqual(range(0, 4));
    cache.shrinkTo(0);
    expect(cache.stats()).toMatchObject({ blocks: 0, bytes: 0 });
  });

  it("stays within its budget for every sequence of prompts", () => {
    const { cache, insert, reused } = cacheOf(3, 20);
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 4;
    for (let i = 0; i < 300; i++) {
      const prompt = Array.from({ length: 1 + next() * 4 + next() }, () => next());
      const got = reused(prompt);
      // Whatever comes back is the prompt's own prefix, never more than its length minus one.
      expect(got).toEqual(prompt.slice(0, got.length));
      expect(got.length).toBeLessThan(prompt.length);
      insert(prompt);
      const stats = cache.stats();
      expect(stats.bytes).toBeLessThanOrEqual(20 * BYTES_PER_TOKEN);
      // No block without a store counted, no store counted without a block.
      expect(stats.bytes > 0).toBe(stats.blocks > 0);
    }
  });

  it("does nothing with a budget of 0", () => {
    const { cache, insert, reused, views } = cacheOf(2, 0);
    expect(insert(range(0, 8))).toBe(0);
    expect(reused(range(0, 8))).toEqual([]);
    expect(views).toEqual([]);
    expect(cache.enabled).toBe(false);
  });
});

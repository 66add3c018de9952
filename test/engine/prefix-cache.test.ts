// The prefix cache on its own: which positions a prompt may reuse, what is stored once, and LRU eviction under the
// byte budget. Segments here are the token ids they stand for, so a match shows exactly which positions it returns.
import { describe, expect, it } from "bun:test";
import { PrefixCache, type KvSegment } from "../../src/engine/prefix-cache.ts";

interface Seg extends KvSegment {
  tokens: number[];
}

const BYTES_PER_TOKEN = 10;
const range = (from: number, length: number) => Array.from({ length }, (_, i) => from + i);

function cacheOf(blockTokens: number, budgetTokens: number) {
  const cache = new PrefixCache<Seg>({ blockTokens, budgetBytes: budgetTokens * BYTES_PER_TOKEN });
  const copies: Array<[number, number]> = [];
  const insert = (ids: number[]) =>
    cache.insert(ids, (start, end) => {
      copies.push([start, end]);
      return { tokens: ids.slice(start, end), bytes: (end - start) * BYTES_PER_TOKEN };
    });
  /** The positions a lookup hands back, as the tokens its segments stand for. */
  const reused = (ids: number[]) => {
    const match = cache.lookup(ids);
    return match ? match.segments.flatMap((s) => s.tokens).slice(0, match.length) : [];
  };
  return { cache, insert, reused, copies };
}

describe("PrefixCache", () => {
  it("reuses the blocks a prompt shares with a cached one, and leaves at least one token to run", () => {
    const { insert, reused } = cacheOf(4, 1000);
    expect(insert(range(0, 10))).toBe(2); // blocks [0..4) and [4..8); the last 2 tokens are no whole block
    expect(reused(range(0, 20))).toEqual(range(0, 8));
    // The second block differs at position 6: its first two positions are still usable.
    expect(reused([...range(0, 6), 99, 98, 97])).toEqual(range(0, 6));
    expect(reused(range(0, 8))).toEqual(range(0, 7)); // the same prompt again: its last token must still run
    expect(reused(range(0, 5))).toEqual(range(0, 4));
    expect(reused(range(0, 3))).toEqual(range(0, 2)); // part of the first block
    expect(reused([1, 2, 3, 4, 5])).toEqual([]);
    expect(reused([0])).toEqual([]);
  });

  it("stores a shared prefix once and copies only the blocks it does not hold", () => {
    const { cache, insert, copies } = cacheOf(4, 1000);
    insert(range(0, 12));
    insert([...range(0, 8), 50, 51, 52, 53, 54]);
    expect(copies).toEqual([
      [0, 4],
      [4, 8],
      [8, 12],
      [8, 12],
    ]);
    expect(cache.stats()).toMatchObject({ blocks: 4, bytes: 16 * BYTES_PER_TOKEN });
  });

  it("evicts the least recently used leaf blocks first and keeps the prefixes others still extend", () => {
    const { cache, insert, reused } = cacheOf(2, 8); // room for four blocks
    insert([1, 1, 2, 2, 3, 3]); // a → b → c
    insert([1, 1, 7, 7]); // a → d
    expect(cache.stats().blocks).toBe(4);
    reused([1, 1, 2, 2, 3, 3, 0]); // a, b, c used last; d is now the oldest leaf
    insert([9, 9]); // e needs room: d goes
    expect(reused([1, 1, 7, 7, 0])).toEqual([1, 1]);
    expect(reused([1, 1, 2, 2, 3, 3, 0])).toEqual([1, 1, 2, 2, 3, 3]);
    insert([5, 5, 6, 6]); // two blocks: e is the oldest leaf, then c (b only once c is gone)
    expect(reused([9, 9, 0])).toEqual([]);
    expect(reused([1, 1, 2, 2, 3, 3, 0])).toEqual([1, 1, 2, 2]);
    expect(reused([5, 5, 6, 6, 0])).toEqual([5, 5, 6, 6]);
    expect(cache.stats()).toMatchObject({ blocks: 4, bytes: 8 * BYTES_PER_TOKEN, evictedBlocks: 3 });
  });

  it("never evicts the path it is extending, and stops when the budget cannot hold more", () => {
    const { cache, insert, reused } = cacheOf(2, 6); // three blocks
    expect(insert(range(0, 10))).toBe(3);
    expect(reused(range(0, 11))).toEqual(range(0, 6));
    expect(cache.stats()).toMatchObject({ blocks: 3, bytes: 6 * BYTES_PER_TOKEN });
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
      expect(stats.bytes).toBe(stats.blocks * 3 * BYTES_PER_TOKEN);
    }
  });

  it("does nothing with a budget of 0", () => {
    const { cache, insert, reused, copies } = cacheOf(2, 0);
    expect(insert(range(0, 8))).toBe(0);
    expect(reused(range(0, 8))).toEqual([]);
    expect(copies).toEqual([]);
    expect(cache.enabled).toBe(false);
  });
});

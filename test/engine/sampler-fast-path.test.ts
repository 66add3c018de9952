// The sampler's hot paths (greedy argmax on the caller's view, and the one-pass weights and sum of plain temperature
// sampling) against a plain reference written the long way: separate passes, a full sort for top_k. Same seed, same
// logits: the same token, over many random vocabularies, temperatures, seeds and filters.
import { describe, expect, test } from "bun:test";
import { Sampler, createRng } from "../../src/engine/sampler.ts";

/** The chain of sampler.ts for top_p = 1, step by step: max, float32 weights, min_p, top_k by sorting, sum, draw. */
function reference(logits: Float32Array, temperature: number, rng: () => number, minP = 0, topK = 0): number {
  const n = logits.length;
  const finite = (x: number) => x > -Infinity;
  if (!(temperature > 0) || !Number.isFinite(1 / temperature)) {
    let best = -1;
    for (let i = 0; i < n; i++) if (finite(logits[i]!) && (best < 0 || logits[i]! > logits[best]!)) best = i;
    return best;
  }
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = logits[i]!;
    let v = finite(x) ? (max === Infinity ? (x === Infinity ? 1 : 0) : Math.exp((x - max) * (1 / temperature))) : 0;
    if (v < minP) v = 0;
    w[i] = v;
  }
  if (topK > 0) {
    const order = Array.from({ length: n }, (_, i) => i)
      .filter((i) => w[i]! > 0)
      .sort((a, b) => w[b]! - w[a]! || a - b);
    for (const i of order.slice(topK)) w[i] = 0;
  }
  let sum = 0;
  let last = -1;
  for (let i = 0; i < n; i++) {
    if (w[i]! > 0) {
      sum += w[i]!;
      last = i;
    }
  }
  const r = rng() * sum;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += w[i]!;
    if (r < acc) return i;
  }
  return last;
}

/** Random logits of a random shape: spread, ties, and a few -Infinity / NaN entries. */
function randomLogits(rng: () => number, n: number): Float32Array {
  const spread = 1 + rng() * 20;
  const logits = Float32Array.from({ length: n }, () => Math.round(rng() * spread * 8) / 8);
  for (let j = 0; j < n / 50; j++) logits[Math.floor(rng() * n)] = rng() < 0.5 ? -Infinity : NaN;
  return logits;
}

describe("sampler fast paths pick what the step-by-step chain picks", () => {
  test("greedy: the lowest id of the largest logit, on views too", () => {
    const rng = createRng(11n);
    for (let t = 0; t < 300; t++) {
      const n = 1 + Math.floor(rng() * 3000);
      const backing = randomLogits(rng, n + 7);
      const view = backing.subarray(7);
      if (!view.some((x) => x > -Infinity)) continue;
      expect(new Sampler({ temperature: 0, topP: 1 }).sample(view)).toBe(reference(view, 0, rng));
    }
  });

  test("temperature, min_p and top_k draws over 1,500 random vocabularies and seeds", () => {
    const rng = createRng(12n);
    let differentTokens = 0;
    for (let t = 0; t < 1500; t++) {
      const n = 2 + Math.floor(rng() * 4000);
      const logits = randomLogits(rng, n);
      const temperature = [0.3, 0.7, 1, 1.5][t % 4]!;
      const minP = t % 3 === 0 ? rng() * 0.2 : 0;
      const topK = t % 5 === 0 ? 1 + Math.floor(rng() * 60) : 0;
      const seed = BigInt(t) * 7919n - 5000n;
      const sampler = new Sampler({ temperature, topP: 1, minP, topK, seed });
      const mirror = createRng(seed);
      // Several draws from the same sampler: its reused scratch arrays must not leak between calls.
      for (let d = 0; d < 3; d++) {
        const got = sampler.sample(logits);
        expect(got).toBe(reference(logits, temperature, mirror, minP, topK));
        if (got !== reference(logits, 0, mirror)) differentTokens++;
      }
    }
    // The draws really sample (not just argmax), so the comparison covers the cumulative scan.
    expect(differentTokens).toBeGreaterThan(1000);
  });

  test("the 50,257-token vocabulary of GPT-2 at temperature 1", () => {
    const rng = createRng(13n);
    for (let t = 0; t < 40; t++) {
      const logits = randomLogits(rng, 50_257);
      const seed = BigInt(t);
      const sampler = new Sampler({ temperature: 1, topP: 1, seed });
      const mirror = createRng(seed);
      for (let d = 0; d < 5; d++) expect(sampler.sample(logits)).toBe(reference(logits, 1, mirror));
    }
  });
});

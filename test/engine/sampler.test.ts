import { describe, expect, test } from "bun:test";
import { Sampler, createRng } from "../../src/engine/sampler.ts";

function softmax(logits: number[], temperature: number): number[] {
  const max = Math.max(...logits);
  const e = logits.map((x) => Math.exp((x - max) / temperature));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function frequencies(sampler: Sampler, logits: Float32Array, draws: number): number[] {
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[sampler.sample(logits)]!++;
  return counts.map((c) => c / draws);
}

describe("createRng", () => {
  test("same seed gives the same stream, different seeds differ", () => {
    const a = createRng(42n);
    const b = createRng(42n);
    const c = createRng(43n);
    const xs = Array.from({ length: 50 }, () => a());
    const ys = Array.from({ length: 50 }, () => b());
    const zs = Array.from({ length: 50 }, () => c());
    expect(ys).toEqual(xs);
    expect(zs).not.toEqual(xs);
    for (const x of [...xs, ...zs]) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  test("large and negative seeds are distinct streams", () => {
    const firsts = [0n, 1n, -1n, 2n ** 32n, 2n ** 32n + 1n, 2n ** 63n - 1n, -(2n ** 63n)].map((s) => createRng(s)());
    expect(new Set(firsts).size).toBe(firsts.length);
  });

  test("unseeded generators differ from each other", () => {
    const a = createRng();
    const b = createRng();
    expect(Array.from({ length: 4 }, () => a())).not.toEqual(Array.from({ length: 4 }, () => b()));
  });

  test("output is roughly uniform", () => {
    const rng = createRng(7n);
    const bins = new Array<number>(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) bins[Math.floor(rng() * 10)]!++;
    for (const b of bins) expect(Math.abs(b / n - 0.1)).toBeLessThan(0.005);
  });
});

describe("Sampler", () => {
  test("temperature 0 is argmax with ties going to the lowest id", () => {
    const s = new Sampler({ temperature: 0, topP: 1, seed: 1n });
    expect(s.sample(Float32Array.from([0.1, 3, -2, 2.9]))).toBe(1);
    expect(s.sample(Float32Array.from([1, 5, 2, 5, 5]))).toBe(1);
    expect(s.sample(Float32Array.from([-Infinity, -7, -7]))).toBe(1);
    // top_p does not matter for greedy decoding
    expect(new Sampler({ temperature: 0, topP: 0.1 }).sample(Float32Array.from([0, 0, 9]))).toBe(2);
  });

  test("does not modify the caller's logits", () => {
    const logits = Float32Array.from([0.5, 2, -1, NaN, -Infinity, 3]);
    const copy = Float32Array.from(logits);
    for (const topP of [1, 0.5]) {
      const s = new Sampler({ temperature: 0.7, topP, seed: 3n });
      for (let i = 0; i < 10; i++) s.sample(logits);
    }
    expect(Array.from(logits)).toEqual(Array.from(copy));
  });

  test("same seed reproduces 50 draws; interleaved samplers stay independent", () => {
    const logits = Float32Array.from(Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 2));
    const draw = (s: Sampler) => Array.from({ length: 50 }, () => s.sample(logits));
    const alone = draw(new Sampler({ temperature: 1, topP: 0.9, seed: 1234n }));

    const a = new Sampler({ temperature: 1, topP: 0.9, seed: 1234n });
    const b = new Sampler({ temperature: 1, topP: 0.9, seed: 1234n });
    const fromA: number[] = [];
    const fromB: number[] = [];
    for (let i = 0; i < 50; i++) {
      fromA.push(a.sample(logits));
      fromB.push(b.sample(logits));
      b.sample(logits); // extra draws on b must not disturb a
    }
    expect(fromA).toEqual(alone);
    expect(fromB[0]).toBe(alone[0]!);

    const other = draw(new Sampler({ temperature: 1, topP: 0.9, seed: 1235n }));
    expect(other).not.toEqual(alone);
  });

  test("temperature 1 frequencies match softmax", () => {
    const raw = [1, 2, 0.5, -1, 1.5];
    const expected = softmax(raw, 1);
    const got = frequencies(new Sampler({ temperature: 1, topP: 1, seed: 99n }), Float32Array.from(raw), 20_000);
    for (let i = 0; i < raw.length; i++) expect(Math.abs(got[i]! - expected[i]!)).toBeLessThan(0.012);
  });

  test("temperature sharpens below 1 and flattens above 1", () => {
    const raw = [2, 1, 0];
    const logits = Float32Array.from(raw);
    const topShare: number[] = [];
    for (const temperature of [0.5, 1, 2]) {
      const expected = softmax(raw, temperature);
      const got = frequencies(new Sampler({ temperature, topP: 1, seed: 5n }), logits, 20_000);
      for (let i = 0; i < raw.length; i++) expect(Math.abs(got[i]! - expected[i]!)).toBeLessThan(0.012);
      topShare.push(got[0]!);
    }
    // softmax([2,1,0]/T)[0]: 0.867 at T=0.5, 0.665 at T=1, 0.506 at T=2
    expect(topShare[0]!).toBeGreaterThan(topShare[1]! + 0.1);
    expect(topShare[1]!).toBeGreaterThan(topShare[2]! + 0.1);
  });

  test("top_p keeps only the nucleus and renormalises inside it", () => {
    // probabilities ≈ [0.30, 0.25, 0.20, 0.15, 0.10]; cumulative 0.30, 0.55 → nucleus {0, 1} at 0.5
    const probs = [0.3, 0.25, 0.2, 0.15, 0.1];
    const logits = Float32Array.from(probs.map(Math.log));
    const got = frequencies(new Sampler({ temperature: 1, topP: 0.5, seed: 11n }), logits, 20_000);
    expect(got[2]).toBe(0);
    expect(got[3]).toBe(0);
    expect(got[4]).toBe(0);
    expect(Math.abs(got[0]! - 0.3 / 0.55)).toBeLessThan(0.012);
    expect(Math.abs(got[1]! - 0.25 / 0.55)).toBeLessThan(0.012);
  });

  test("top_p boundary: cumulative exactly equal to top_p stops there, ties keep the lowest id", () => {
    // weights 1, 0.5, 0.5 (sum 2): token 0 alone holds exactly half the mass
    const logits = Float32Array.from([Math.LN2, 0, 0]);
    const half = frequencies(new Sampler({ temperature: 1, topP: 0.5, seed: 2n }), logits, 2000);
    expect(half).toEqual([1, 0, 0]);
    const more = frequencies(new Sampler({ temperature: 1, topP: 0.51, seed: 2n }), logits, 4000);
    expect(more[2]).toBe(0);
    expect(Math.abs(more[0]! - 2 / 3)).toBeLessThan(0.03);
    expect(new Sampler({ temperature: 1, topP: 0, seed: 2n }).sample(logits)).toBe(0);
  });

  test("top_p on a 50k vocabulary never leaves the nucleus", () => {
    const n = 50_000;
    const rng = createRng(123n);
    const logits = new Float32Array(n);
    for (let i = 0; i < n; i++) logits[i] = rng() * 4;
    // planted tokens ≈ 0.49, 0.30, 0.18 of the mass (background 50k·E[e^4u] ≈ 0.67M vs e^16 ≈ 8.9M)
    logits[777] = 16;
    logits[31_000] = 15.5;
    logits[4] = 15;
    const exp = Array.from(logits, (x) => Math.exp(x - 16));
    const total = exp.reduce((a, b) => a + b, 0);
    const order = exp.map((_, i) => i).sort((a, b) => exp[b]! - exp[a]! || a - b);
    const nucleus = new Set<number>();
    let cum = 0;
    for (const id of order) {
      nucleus.add(id);
      cum += exp[id]! / total;
      if (cum >= 0.6) break;
    }
    expect([...nucleus].sort((a, b) => a - b)).toEqual([777, 31_000]);

    const s = new Sampler({ temperature: 1, topP: 0.6, seed: 8n });
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(s.sample(logits));
    expect([...seen].sort((a, b) => a - b)).toEqual([777, 31_000]);
  });

  test("top_p matches a full-sort reference on a flat distribution", () => {
    const n = 4096;
    const rng = createRng(77n);
    const logits = Float32Array.from({ length: n }, () => rng() * 0.5);
    const exp = Array.from(logits, (x) => Math.exp(x));
    const total = exp.reduce((a, b) => a + b, 0);
    const order = exp.map((_, i) => i).sort((a, b) => exp[b]! - exp[a]! || a - b);
    let cum = 0;
    let size = 0;
    while (cum < 0.3 * total) cum += exp[order[size++]!]!;
    const nucleus = new Set(order.slice(0, size));
    const s = new Sampler({ temperature: 1, topP: 0.3, seed: 4n });
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(s.sample(logits));
    for (const id of seen) expect(nucleus.has(id)).toBe(true);
    expect(seen.size).toBeGreaterThan(size * 0.95);
  });

  test("NaN and -Infinity logits are never chosen", () => {
    const logits = Float32Array.from([NaN, -Infinity, 0, -Infinity, 1, NaN]);
    for (const topP of [1, 0.9]) {
      const got = frequencies(new Sampler({ temperature: 1, topP, seed: 21n }), logits, 5000);
      expect(got[0]! + got[1]! + got[3]! + got[5]!).toBe(0);
      expect(got[2]!).toBeGreaterThan(0.2);
      expect(got[4]!).toBeGreaterThan(0.6);
    }
    expect(new Sampler({ temperature: 0, topP: 1 }).sample(logits)).toBe(4);
    const single = Float32Array.from([-Infinity, -Infinity, -3, -Infinity]);
    const s = new Sampler({ temperature: 2, topP: 0.5, seed: 1n });
    for (let i = 0; i < 100; i++) expect(s.sample(single)).toBe(2);
  });

  test("+Infinity logits share the mass equally", () => {
    const logits = Float32Array.from([0, Infinity, 50, Infinity]);
    const got = frequencies(new Sampler({ temperature: 1, topP: 1, seed: 6n }), logits, 4000);
    expect(got[0]! + got[2]!).toBe(0);
    expect(Math.abs(got[1]! - 0.5)).toBeLessThan(0.03);
    expect(new Sampler({ temperature: 0, topP: 1 }).sample(logits)).toBe(1);
  });

  test("logits with nothing to sample throw", () => {
    const bad = Float32Array.from([NaN, -Infinity]);
    expect(() => new Sampler({ temperature: 1, topP: 1 }).sample(bad)).toThrow(RangeError);
    expect(() => new Sampler({ temperature: 0, topP: 1 }).sample(bad)).toThrow(RangeError);
    expect(() => new Sampler({ temperature: 1, topP: 1 }).sample(new Float32Array(0))).toThrow(RangeError);
  });

  test("a vanishing temperature behaves like greedy", () => {
    const logits = Float32Array.from([1, 1.0001, 0.5]);
    const s = new Sampler({ temperature: 1e-320, topP: 1, seed: 1n });
    for (let i = 0; i < 20; i++) expect(s.sample(logits)).toBe(1);
  });

  test("works on subarray views and across vocabulary sizes", () => {
    const backing = new Float32Array(10).fill(-Infinity);
    backing[7] = 0; // index 2 of the view [5, 10)
    const s = new Sampler({ temperature: 1, topP: 0.9, seed: 1n });
    expect(s.sample(backing.subarray(5))).toBe(2);
    const big = new Float32Array(3000).fill(-Infinity);
    big[2999] = 1;
    expect(s.sample(big)).toBe(2999);
    expect(s.sample(Float32Array.from([-Infinity, 4]))).toBe(1);
  });
});

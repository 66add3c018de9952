import { describe, expect, test } from "bun:test";
import { applyLogitBias, applyPenalties, TokenHistory } from "../../src/engine/logits-processors.ts";
import { logSumExp, topLogprobs } from "../../src/engine/logprobs.ts";
import { choiceSeed, createRng, mix64 } from "../../src/engine/rng.ts";
import { Sampler, type LogitsMask, type SamplingParams } from "../../src/engine/sampler.ts";

function counts(params: SamplingParams, logits: number[], draws: number): number[] {
  const s = new Sampler(params);
  const row = Float32Array.from(logits);
  const out = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) out[s.sample(row)]!++;
  return out.map((c) => c / draws);
}

describe("penalties and logit bias", () => {
  test("frequency and presence penalties follow OpenAI's additive formula over generated tokens only", () => {
    const history = new TokenHistory([0, 1]); // prompt tokens are not counted
    for (const t of [2, 2, 2, 3]) history.add(t);
    const logits = Float32Array.from([1, 1, 1, 1, 1]);
    applyPenalties(logits, history, { presencePenalty: 0.5, frequencyPenalty: 0.25, repetitionPenalty: 1 });
    // token 2: 1 - (3 * 0.25 + 0.5) = -0.25; token 3: 1 - (0.25 + 0.5) = 0.25
    expect(Array.from(logits)).toEqual([1, 1, -0.25, 0.25, 1]);
  });

  test("negative penalties reward repetition", () => {
    const history = new TokenHistory([]);
    history.add(1);
    const logits = Float32Array.from([0, 0]);
    applyPenalties(logits, history, { presencePenalty: -1, frequencyPenalty: -0.5, repetitionPenalty: 1 });
    expect(Array.from(logits)).toEqual([0, 1.5]);
  });

  test("repetition penalty divides positive and multiplies negative logits of every token seen, prompt included", () => {
    const history = new TokenHistory([0, 1]);
    history.add(2);
    const logits = Float32Array.from([2, -2, 3, 3]);
    applyPenalties(logits, history, { presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 2 });
    expect(Array.from(logits)).toEqual([1, -4, 1.5, 3]);
  });

  test("logit bias adds to the named ids only", () => {
    const logits = Float32Array.from([0, 1, 2]);
    applyLogitBias(logits, [[0, 5], [2, -1.5]]);
    expect(Array.from(logits)).toEqual([5, 1, 0.5]);
  });

  test("-100 bans a token and +100 forces one, greedy and sampled", () => {
    const logits = [4, 3.9, 0, -2];
    expect(new Sampler({ temperature: 0, topP: 1, logitBias: [[0, -100]] }).sample(Float32Array.from(logits))).toBe(1);
    const banned = counts({ temperature: 1.5, topP: 1, seed: 3n, logitBias: [[0, -100]] }, logits, 3000);
    expect(banned[0]).toBe(0);
    const forced = counts({ temperature: 1.5, topP: 1, seed: 3n, logitBias: [[3, 100]] }, logits, 3000);
    expect(forced).toEqual([0, 0, 0, 1]);
  });

  test("greedy decoding with a frequency penalty steps through the ids as the penalties add up", () => {
    const s = new Sampler({ temperature: 0, topP: 1, frequencyPenalty: 2 });
    const row = Float32Array.from([3, 2, 1]);
    // 0 (3) → 1 (2 beats 1) → 0 (ties token 2 at 1, lowest id) → 2 (1 beats -1, 0) → 1 (0 beats -1, -1)
    expect(Array.from({ length: 5 }, () => s.sample(row))).toEqual([0, 1, 0, 2, 1]);
    expect(Array.from(row)).toEqual([3, 2, 1]);
  });
});

describe("filters in vLLM's order", () => {
  test("top_k keeps the k most likely tokens, ties going to the lowest ids", () => {
    const got = counts({ temperature: 1, topP: 1, topK: 2, seed: 1n }, [1, 3, 3, 3, 2], 4000);
    expect(got[0]! + got[3]! + got[4]!).toBe(0);
    expect(Math.abs(got[1]! - 0.5)).toBeLessThan(0.04);
    const big = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i * 7.3));
    const top = [...big.keys()].sort((a, b) => big[b]! - big[a]! || a - b).slice(0, 10);
    const s = new Sampler({ temperature: 5, topP: 1, topK: 10, seed: 2n });
    const seen = new Set(Array.from({ length: 1000 }, () => s.sample(big)));
    expect([...seen].sort((a, b) => a - b)).toEqual([...top].sort((a, b) => a - b));
  });

  test("top_p applies to the distribution top_k leaves (top_k first)", () => {
    // probs 0.4, 0.3, 0.2, 0.1: top_k 2 renormalises to 0.571, 0.429, so top_p 0.5 keeps token 0 alone
    const logits = [0.4, 0.3, 0.2, 0.1].map(Math.log);
    expect(counts({ temperature: 1, topP: 0.5, topK: 2, seed: 4n }, logits, 2000)).toEqual([1, 0, 0, 0]);
    const withoutK = counts({ temperature: 1, topP: 0.5, seed: 4n }, logits, 4000);
    expect(withoutK[1]).toBeGreaterThan(0.3);
  });

  test("min_p compares probabilities after temperature", () => {
    // token 1 has e^-1 ≈ 0.37 of token 0's probability at T=1, e^-2 ≈ 0.14 at T=0.5, e^-0.5 ≈ 0.61 at T=2
    const logits = [1, 0];
    expect(counts({ temperature: 1, topP: 1, minP: 0.3, seed: 5n }, logits, 2000)[1]).toBeGreaterThan(0.2);
    expect(counts({ temperature: 0.5, topP: 1, minP: 0.3, seed: 5n }, logits, 2000)[1]).toBe(0);
    expect(counts({ temperature: 2, topP: 1, minP: 0.6, seed: 5n }, logits, 2000)[1]).toBeGreaterThan(0.3);
    expect(counts({ temperature: 2, topP: 1, minP: 0.62, seed: 5n }, logits, 2000)[1]).toBe(0);
  });

  test("a mask forbids tokens after the bias, before every filter", () => {
    const mask: LogitsMask = { apply: (x) => void (x[0] = -Infinity) };
    const s = new Sampler({ temperature: 0, topP: 1, logitBias: [[0, 100]] });
    expect(s.sample(Float32Array.from([5, 1, 2]), mask)).toBe(2);
    expect(s.sample(Float32Array.from([5, 1, 2]))).toBe(0);
    const k = new Sampler({ temperature: 1, topP: 1, topK: 1, seed: 1n });
    for (let i = 0; i < 50; i++) expect(k.sample(Float32Array.from([5, 1, 2]), mask)).toBe(2);
  });
});

describe("logprobs", () => {
  test("equal a direct float64 log-softmax, most likely first, ties to the lowest id", () => {
    const rng = createRng(9n);
    const logits = Float32Array.from({ length: 3000 }, () => rng() * 20 - 10);
    logits[17] = logits[2900] = 12; // a tie at the top
    logits[5] = -Infinity;
    logits[6] = NaN;
    const finite = Array.from(logits).filter((x) => x > -Infinity);
    const max = Math.max(...finite);
    const lse = max + Math.log(finite.reduce((s, x) => s + Math.exp(x - max), 0));
    expect(Math.abs(logSumExp(logits) - lse)).toBeLessThan(1e-9);
    const reference = [...logits.keys()]
      .filter((i) => logits[i]! > -Infinity)
      .sort((a, b) => logits[b]! - logits[a]! || a - b)
      .slice(0, 20)
      .map((id) => ({ id, logprob: logits[id]! - lse }));
    const got = topLogprobs(logits, 20);
    expect(got.map((t) => t.id)).toEqual(reference.map((t) => t.id));
    got.forEach((t, i) => expect(Math.abs(t.logprob - reference[i]!.logprob)).toBeLessThan(1e-9));
    expect(got[0]!.id).toBe(17);
    expect(got[1]!.id).toBe(2900);
    expect(topLogprobs(logits, 0)).toEqual([]);
    expect(topLogprobs(Float32Array.from([0, 0]), 5).map((t) => t.id)).toEqual([0, 1]);
  });
});

describe("seeds", () => {
  test("mix64 is SplitMix64 (reference output for state 0)", () => {
    expect(mix64(0n)).toBe(0xe220a8397b1dcdafn);
  });

  test("every (seed, choice) pair gets its own stream: choice i of seed s never equals choice 0 of seed s+i", () => {
    const firsts = new Set<number>();
    const seeds = [0n, 1n, 2n, -1n, 2n ** 63n - 1n, 2n ** 63n - 2n, -(2n ** 63n), 2n ** 53n, 2n ** 53n + 1n];
    for (const seed of seeds) for (let i = 0; i < 4; i++) firsts.add(createRng(choiceSeed(seed, i))());
    expect(firsts.size).toBe(seeds.length * 4);
    expect(createRng(choiceSeed(5n, 1))()).not.toBe(createRng(choiceSeed(6n, 0))());
  });

  test("a signed seed and its unsigned 64-bit twin are the same seed", () => {
    expect(choiceSeed(-1n, 0)).toBe(choiceSeed(2n ** 64n - 1n, 0));
  });
});

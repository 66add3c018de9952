/**
 * Next-token selection: one chain per sequence, in the order vLLM applies its stages,
 *
 *   logit bias → repetition / frequency / presence penalties → constraint mask → temperature → min_p → top_k → top_p
 *   → draw
 *
 * (greedy decoding, temperature 0, takes the argmax right after the mask). The first three rewrite a private copy of
 * the row's logits and touch only the ids they name; the filters work on the unnormalised softmax weights. This runs
 * once per generated token over the whole vocabulary (50k–200k entries), so the hot path is a handful of linear
 * passes over reused typed arrays: no per-call vocab-sized allocation and no full sort.
 */
import { applyLogitBias, applyPenalties, TokenHistory, type PenaltyParams } from "./logits-processors.ts";
import { createRng } from "./rng.ts";

export { createRng } from "./rng.ts";

export interface SamplingParams {
  temperature: number;
  topP: number;
  /** Keep only the k most likely tokens; 0 (or absent) keeps all. */
  topK?: number;
  /** Drop tokens whose probability is below minP × the top probability (after temperature); 0 is off. */
  minP?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** 1 (or absent) is off. */
  repetitionPenalty?: number;
  /** (token id, added logit) pairs; ±100 bans or forces a token in practice. */
  logitBias?: ReadonlyArray<readonly [number, number]>;
  /** This sequence's own stream seed (see rng.ts `choiceSeed`; a number is taken as the integer it holds); absent: unseeded. */
  seed?: bigint | number;
}

/**
 * A stage that may only forbid tokens, applied after the penalties and before any filter: it sets the logits of the
 * ids it refuses to -Infinity (constrained decoding's token mask). The sequence owns its state.
 */
export interface LogitsMask {
  apply(logits: Float32Array): void;
}

/** Float32 bit patterns of weights in (0, 1] shifted by this give log-spaced buckets (~3% wide). */
const BUCKET_SHIFT = 19;
const ONE_BITS = 0x3f800000;
const BUCKETS = (ONE_BITS >>> BUCKET_SHIFT) + 1;
/** Candidate keys pack (weight bits, index) into one exactly-representable double. */
const MAX_VOCAB = 1 << 23;

function argmax(logits: Float32Array): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    // Strict comparison: ties keep the lowest id, NaN and -Infinity never win.
    if (x > bestValue) {
      bestValue = x;
      best = i;
    }
  }
  if (best < 0) throw new RangeError("cannot sample: every logit is -Infinity or NaN");
  return best;
}

export class Sampler {
  private readonly temperature: number;
  private readonly topP: number;
  private readonly topK: number;
  private readonly minP: number;
  private readonly bias: ReadonlyArray<readonly [number, number]>;
  private readonly penalties: PenaltyParams;
  /** Kept only when a penalty needs it. */
  private readonly history: TokenHistory | undefined;
  private readonly rng: () => number;
  // Scratch space reused across calls; grown when a larger vocab shows up.
  private processed = new Float32Array(0);
  private weights = new Float32Array(0);
  private weightBits = new Uint32Array(0);
  private selection = new Float32Array(0);
  private keys = new Float64Array(0);
  private readonly histogram = new Float64Array(BUCKETS);

  constructor(params: SamplingParams, promptIds: readonly number[] = []) {
    this.temperature = params.temperature;
    this.topP = params.topP;
    this.topK = params.topK ?? 0;
    this.minP = params.minP ?? 0;
    this.bias = params.logitBias ?? [];
    this.penalties = {
      presencePenalty: params.presencePenalty ?? 0,
      frequencyPenalty: params.frequencyPenalty ?? 0,
      repetitionPenalty: params.repetitionPenalty ?? 1,
    };
    const { presencePenalty, frequencyPenalty, repetitionPenalty } = this.penalties;
    const penalised = presencePenalty !== 0 || frequencyPenalty !== 0 || repetitionPenalty !== 1;
    this.history = penalised ? new TokenHistory(promptIds) : undefined;
    this.rng = createRng(params.seed);
  }

  /**
   * Picks the next token id from a row's raw logits (a vocab-sized view the sampler never mutates) and records it in
   * the sequence's history. `mask`, when given, forbids tokens for this step only.
   */
  sample(logits: Float32Array, mask?: LogitsMask): number {
    if (logits.length === 0) throw new RangeError("cannot sample from an empty logits array");
    const x = this.process(logits, mask);
    const invTemperature = 1 / this.temperature;
    // Tiny temperatures overflow 1/T; the limit of softmax(l/T) as T→0 is argmax anyway.
    const greedy = !(this.temperature > 0) || !Number.isFinite(invTemperature);
    const token = greedy ? argmax(x) : this.draw(x, invTemperature);
    this.history?.add(token);
    return token;
  }

  /** Bias, penalties and mask on a private copy; the caller's logits when there is nothing to apply. */
  private process(logits: Float32Array, mask: LogitsMask | undefined): Float32Array {
    if (this.bias.length === 0 && !this.history && !mask) return logits;
    const n = logits.length;
    if (this.processed.length < n) this.processed = new Float32Array(n);
    const x = this.processed.subarray(0, n);
    x.set(logits);
    applyLogitBias(x, this.bias);
    if (this.history) applyPenalties(x, this.history, this.penalties);
    mask?.apply(x);
    return x;
  }

  /** Temperature, then min_p, top_k and top_p on the softmax weights, then one draw from what is left. */
  private draw(logits: Float32Array, invTemperature: number): number {
    const n = logits.length;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = logits[i]!;
      if (x > max) max = x;
    }
    if (max === -Infinity) throw new RangeError("cannot sample: every logit is -Infinity or NaN");

    if (this.weights.length < n) {
      this.weights = new Float32Array(n);
      this.weightBits = new Uint32Array(this.weights.buffer);
    }
    const w = this.weights;
    // Unnormalised softmax with the max subtracted, so the top weight is exactly 1 and nothing overflows; a weight
    // is its probability relative to the top one, which is what min_p compares. +Infinity logits share all the mass.
    // One pass computes the weights and, from the stored float32 values (so sums match later re-reads), their sum;
    // top_k, when it drops any, sums again what it kept.
    const minP = this.minP;
    let kept = 0;
    let sum = 0;
    let lastPositive = -1;
    for (let i = 0; i < n; i++) {
      const x = logits[i]!;
      let v = 0;
      if (x > -Infinity) v = max === Infinity ? (x === Infinity ? 1 : 0) : Math.exp((x - max) * invTemperature);
      if (v < minP) v = 0;
      w[i] = v;
      if (v > 0) {
        kept++;
        const stored = w[i]!;
        if (stored > 0) {
          sum += stored;
          lastPositive = i;
        }
      }
    }
    if (this.topK > 0 && this.topK < kept) {
      this.keepTopK(n, kept);
      sum = 0;
      lastPositive = -1;
      for (let i = 0; i < n; i++) {
        if (w[i]! > 0) {
          sum += w[i]!;
          lastPositive = i;
        }
      }
    }
    if (!(this.topP < 1)) {
      const r = this.rng() * sum;
      let acc = 0;
      for (let i = 0; i < n; i++) {
        acc += w[i]!;
        if (r < acc) return i;
      }
      return lastPositive; // r can land on the sum itself through rounding
    }
    return this.sampleNucleus(n, sum);
  }

  /** Zeroes every weight below the k-th largest (ties at the k-th keep the lowest ids) with one quickselect. */
  private keepTopK(n: number, kept: number): void {
    const w = this.weights;
    const k = this.topK;
    if (this.selection.length < kept) this.selection = new Float32Array(kept);
    const sel = this.selection;
    let m = 0;
    for (let i = 0; i < n; i++) if (w[i]! > 0) sel[m++] = w[i]!;
    const threshold = selectDescending(sel, m, k - 1);
    let above = 0;
    for (let i = 0; i < n; i++) if (w[i]! > threshold) above++;
    let ties = k - above;
    for (let i = 0; i < n; i++) {
      const v = w[i]!;
      if (v < threshold || (v === threshold && ties-- <= 0)) w[i] = 0;
    }
  }

  /**
   * Nucleus sampling without sorting the vocabulary: a histogram over the
   * weights' exponent bits finds the bucket where the cumulative mass crosses
   * top_p, and only tokens at or above that bucket get sorted.
   */
  private sampleNucleus(n: number, sum: number): number {
    if (n > MAX_VOCAB) throw new RangeError(`top_p sampling supports vocabularies up to ${MAX_VOCAB} tokens`);
    const w = this.weights;
    const bits = this.weightBits;
    const hist = this.histogram;
    const target = this.topP * sum;

    hist.fill(0);
    for (let i = 0; i < n; i++) {
      const b = bits[i]!;
      if (b !== 0) hist[b >>> BUCKET_SHIFT]! += w[i]!;
    }
    let cut = 0;
    let acc = 0;
    for (let k = BUCKETS - 1; k >= 0; k--) {
      acc += hist[k]!;
      if (acc >= target) {
        cut = k;
        break;
      }
    }

    // Positive float32 bit patterns order like their values, so sorting the
    // packed doubles orders by weight, then by descending id for equal weights
    // (read from the top, that is ascending id: ties keep the lowest ids).
    let radix = 1;
    while (radix < n) radix *= 2;
    if (this.keys.length < n) this.keys = new Float64Array(n);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const b = bits[i]!;
      if (b !== 0 && b >>> BUCKET_SHIFT >= cut) this.keys[m++] = b * radix + (radix - 1 - i);
    }
    const keys = this.keys.subarray(0, m).sort();
    const idAt = (j: number): number => {
      const key = keys[j]!;
      return radix - 1 - (key - Math.floor(key / radix) * radix);
    };

    let nucleusMass = 0;
    let first = m - 1;
    for (; first > 0; first--) {
      nucleusMass += w[idAt(first)]!;
      if (nucleusMass >= target) break;
    }
    if (first === 0) nucleusMass += w[idAt(0)]!;

    const r = this.rng() * nucleusMass;
    let cum = 0;
    for (let j = m - 1; j > first; j--) {
      const id = idAt(j);
      cum += w[id]!;
      if (r < cum) return id;
    }
    return idAt(first);
  }
}

/** The value of rank `rank` (0 = largest) among the first `m` entries, reordering them (Hoare's quickselect). */
function selectDescending(values: Float32Array, m: number, rank: number): number {
  let lo = 0;
  let hi = m - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! > pivot) i++;
      while (values[j]! < pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i++] = values[j]!;
        values[j--] = t;
      }
    }
    if (rank <= j) hi = j;
    else if (rank >= i) lo = i;
    else return values[rank]!;
  }
  return values[lo]!;
}

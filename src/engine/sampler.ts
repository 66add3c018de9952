/**
 * Next-token selection with OpenAI `temperature` / `top_p` / `seed` semantics.
 *
 * This runs once per generated token over the whole vocabulary (50k–200k
 * entries), so the hot path is a handful of linear passes over reused typed
 * arrays: no per-call vocab-sized allocation and no full sort for top_p.
 */

export interface SamplingParams {
  temperature: number;
  topP: number;
  seed?: number;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** 32-bit finaliser from splitmix32/murmur3; a bijection, so distinct inputs stay distinct. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) | 0;
}

/**
 * Deterministic PRNG (xoshiro128**, 128-bit state) yielding doubles in [0, 1).
 * With no seed the state comes from the OS CSPRNG.
 */
export function createRng(seed?: number): () => number {
  let lo: number;
  let hi: number;
  if (seed === undefined) {
    const words = crypto.getRandomValues(new Uint32Array(2));
    lo = words[0]!;
    hi = words[1]!;
  } else {
    // The float64 bit pattern keeps every distinct seed distinct, including
    // integers beyond 2^32 and the odd fractional value (-0 folds into 0).
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, seed === 0 ? 0 : seed);
    hi = view.getUint32(0);
    lo = view.getUint32(4);
  }
  // c and d are bijections of lo and hi, so the state is injective in the
  // seed; a and b mix both halves so early outputs depend on the whole seed.
  let c = mix32(lo + 0x9e3779b9);
  let d = mix32(hi + 0x7f4a7c15);
  let a = mix32(c ^ rotl(d, 16) ^ 0x6a09e667);
  let b = mix32(d ^ rotl(a, 11) ^ 0xbb67ae85);
  if ((a | b | c | d) === 0) a = 1;

  const next32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9);
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result >>> 0;
  };
  // Nearby seeds start from correlated states; a few rounds decorrelate them.
  for (let i = 0; i < 8; i++) next32();

  return () => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
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
  private readonly rng: () => number;
  // Scratch space reused across calls; grown when a larger vocab shows up.
  private weights = new Float32Array(0);
  private weightBits = new Uint32Array(0);
  private keys = new Float64Array(0);
  private readonly histogram = new Float64Array(BUCKETS);

  constructor(params: SamplingParams) {
    this.temperature = params.temperature;
    this.topP = params.topP;
    this.rng = createRng(params.seed);
  }

  /** Picks the next token id from raw logits (vocab-sized view; do not mutate the caller's array). */
  sample(logits: Float32Array): number {
    const n = logits.length;
    if (n === 0) throw new RangeError("cannot sample from an empty logits array");
    const invTemperature = 1 / this.temperature;
    // Tiny temperatures overflow 1/T; the limit of softmax(l/T) as T→0 is argmax anyway.
    if (!(this.temperature > 0) || !Number.isFinite(invTemperature)) return argmax(logits);

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
    // Unnormalised softmax with the max subtracted, so the top weight is exactly 1
    // and nothing overflows. +Infinity logits share all the mass equally.
    let sum = 0;
    let lastPositive = -1;
    for (let i = 0; i < n; i++) {
      const x = logits[i]!;
      let v = 0;
      if (x > -Infinity) v = max === Infinity ? (x === Infinity ? 1 : 0) : Math.exp((x - max) * invTemperature);
      w[i] = v;
      if (v > 0) {
        sum += w[i]!; // the stored float32 value, so sums match later re-reads
        lastPositive = i;
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

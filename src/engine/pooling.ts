/**
 * Turning an encoder's per-token hidden states into one vector per input. Pure functions over plain arrays, so the
 * numbers can be checked by hand.
 */

/** sentence-transformers' pooling modes that gpt3dev applies (`1_Pooling/config.json`'s `pooling_mode_*` flags). */
export const POOLING_MODES = ["mean", "cls", "max", "lasttoken", "mean_sqrt_len", "weightedmean"] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

export function isPoolingMode(value: unknown): value is PoolingMode {
  return typeof value === "string" && (POOLING_MODES as readonly string[]).includes(value);
}

/** An encoder output `[batch, seq, width]` laid out row-major, as ONNX Runtime returns `last_hidden_state`. */
export interface HiddenStates {
  data: Float32Array;
  batch: number;
  seq: number;
  width: number;
}

/**
 * Mean of the hidden states whose attention-mask entry is 1 (`mask` is `[batch, seq]`). Padding must not move a vector,
 * which is why the mask, not the padded length, is the divisor. Sums run in float64 so that a long input does not lose
 * precision that a short one keeps.
 */
export function meanPool(hidden: HiddenStates, mask: ArrayLike<number | bigint>): Float32Array[] {
  return weightedPool(hidden, mask, () => 1, (total) => total);
}

/** sentence-transformers' `mean_sqrt_len_tokens`: the sum of the kept hidden states divided by √(their count). */
export function meanSqrtLenPool(hidden: HiddenStates, mask: ArrayLike<number | bigint>): Float32Array[] {
  return weightedPool(hidden, mask, () => 1, Math.sqrt);
}

/**
 * sentence-transformers' `weightedmean_tokens` (SGPT): position s (from 0) weighs s + 1, so later tokens, which a
 * causal encoder has shown more of the text, count more; divided by the sum of the kept weights.
 */
export function weightedMeanPool(hidden: HiddenStates, mask: ArrayLike<number | bigint>): Float32Array[] {
  return weightedPool(hidden, mask, (s) => s + 1, (total) => total);
}

/** Σ weight(s)·h[s] over the kept positions, divided by divisor(Σ weight(s)), summed in float64. */
function weightedPool(hidden: HiddenStates, mask: ArrayLike<number | bigint>, weight: (s: number) => number, divisor: (total: number) => number): Float32Array[] {
  const { data, batch, seq, width } = hidden;
  if (mask.length !== batch * seq) throw new Error(`mask has ${mask.length} entries, expected ${batch * seq}`);
  const vectors: Float32Array[] = [];
  for (let b = 0; b < batch; b++) {
    const sum = new Float64Array(width);
    let total = 0;
    for (let s = 0; s < seq; s++) {
      if (Number(mask[b * seq + s]) === 0) continue;
      const w = weight(s);
      total += w;
      const offset = (b * seq + s) * width;
      for (let d = 0; d < width; d++) sum[d]! += w * data[offset + d]!;
    }
    // An all-padding row has nothing to average; a zero vector is what sentence-transformers returns (clamped divisor).
    const out = new Float32Array(width);
    if (total > 0) for (let d = 0; d < width; d++) out[d] = sum[d]! / divisor(total);
    vectors.push(out);
  }
  return vectors;
}

/** The hidden state of the first token ([CLS] for BERT-style models) of every row. */
export function clsPool(hidden: HiddenStates): Float32Array[] {
  const { data, batch, seq, width } = hidden;
  return Array.from({ length: batch }, (_, b) => data.slice(b * seq * width, b * seq * width + width));
}

/**
 * The largest value of each component over the positions the mask keeps (sentence-transformers' max pooling, which
 * sets padding to -1e9 first). A row with no kept position gives a zero vector.
 */
export function maxPool(hidden: HiddenStates, mask: ArrayLike<number | bigint>): Float32Array[] {
  const { data, batch, seq, width } = hidden;
  if (mask.length !== batch * seq) throw new Error(`mask has ${mask.length} entries, expected ${batch * seq}`);
  const vectors: Float32Array[] = [];
  for (let b = 0; b < batch; b++) {
    const out = new Float32Array(width).fill(-Infinity);
    let kept = 0;
    for (let s = 0; s < seq; s++) {
      if (Number(mask[b * seq + s]) === 0) continue;
      kept++;
      const offset = (b * seq + s) * width;
      for (let d = 0; d < width; d++) out[d] = Math.max(out[d]!, data[offset + d]!);
    }
    vectors.push(kept > 0 ? out : new Float32Array(width));
  }
  return vectors;
}

/**
 * The hidden state of each row's last kept position (sentence-transformers' `lasttoken`, used by decoder-based
 * embedders whose last token has seen the whole text). Rows are right-padded, so that is the last 1 of the mask.
 */
export function lastTokenPool(hidden: HiddenStates, mask: ArrayLike<number | bigint>): Float32Array[] {
  const { data, batch, seq, width } = hidden;
  if (mask.length !== batch * seq) throw new Error(`mask has ${mask.length} entries, expected ${batch * seq}`);
  return Array.from({ length: batch }, (_, b) => {
    let last = -1;
    for (let s = 0; s < seq; s++) if (Number(mask[b * seq + s]) !== 0) last = s;
    if (last < 0) return new Float32Array(width);
    const offset = (b * seq + last) * width;
    return data.slice(offset, offset + width);
  });
}

export function pool(mode: PoolingMode, hidden: HiddenStates, mask: ArrayLike<number | bigint>): Float32Array[] {
  switch (mode) {
    case "cls":
      return clsPool(hidden);
    case "max":
      return maxPool(hidden, mask);
    case "lasttoken":
      return lastTokenPool(hidden, mask);
    case "mean":
      return meanPool(hidden, mask);
    case "mean_sqrt_len":
      return meanSqrtLenPool(hidden, mask);
    case "weightedmean":
      return weightedMeanPool(hidden, mask);
  }
}

/** A copy scaled to unit Euclidean length; a zero vector stays zero rather than becoming NaN. */
export function l2Normalize(vector: Float32Array): Float32Array {
  let squares = 0;
  for (const value of vector) squares += value * value;
  const norm = Math.sqrt(squares);
  const out = new Float32Array(vector.length);
  if (norm === 0) return out;
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! / norm;
  return out;
}

/**
 * The first `dimensions` components, normalised again: how OpenAI's `dimensions` shortens a Matryoshka-trained
 * embedding, so cosine similarity stays a plain dot product.
 */
export function truncateDimensions(vector: Float32Array, dimensions: number): Float32Array {
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > vector.length) {
    throw new RangeError(`dimensions must be an integer from 1 to ${vector.length}, got ${dimensions}`);
  }
  return l2Normalize(vector.subarray(0, dimensions));
}

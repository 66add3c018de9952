/**
 * Log-probabilities of the model's own next-token distribution: the log-softmax of the raw logits, before
 * temperature, penalties, logit bias or any filter (vLLM's default `raw_logprobs`). They describe the model, so a
 * request's logprobs do not change with its sampling settings.
 */

/** log Σ exp(logits), computed with the max subtracted; -Infinity when nothing is finite. NaN entries are skipped. */
export function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    if (x > max) max = x;
  }
  if (max === -Infinity || max === Infinity) return max;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    if (x > -Infinity) sum += Math.exp(x - max);
  }
  return max + Math.log(sum);
}

export interface RankedLogprob {
  id: number;
  logprob: number;
}

/**
 * The `k` most likely ids with their log-probabilities, most likely first, ties to the lowest id; one pass with an
 * insertion-sorted list of at most `k` entries (k is small: OpenAI allows 20).
 */
export function topLogprobs(logits: Float32Array, k: number, lse = logSumExp(logits)): RankedLogprob[] {
  if (k <= 0) return [];
  const ids: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    if (!(x > -Infinity)) continue;
    if (ids.length === k && !(x > values[k - 1]!)) continue;
    let at = ids.length === k ? k - 1 : ids.length;
    while (at > 0 && x > values[at - 1]!) {
      if (at < k) {
        ids[at] = ids[at - 1]!;
        values[at] = values[at - 1]!;
      }
      at--;
    }
    ids[at] = i;
    values[at] = x;
  }
  return ids.map((id, j) => ({ id, logprob: values[j]! - lse }));
}

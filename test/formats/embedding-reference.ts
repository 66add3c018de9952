// transformers.js as the reference for the encoder fixtures: its feature-extraction pipeline on the same files the
// server loads, over the same batch (int8 graphs quantize activations per batch, so a batch is compared with a batch).
// transformers.js pools by mean or first token itself; for max and last-token pooling, which its pipeline does not
// offer (its `last_token` takes the last padded position), the reference reduces the pipeline's per-token output
// with the tokenizer's attention mask, as sentence-transformers does; so it does for sentence-transformers'
// mean_sqrt_len (sum / √count) and weightedmean (position s weighs s + 1).
import { AutoTokenizer, env, pipeline } from "@huggingface/transformers";

env.allowRemoteModels = false;
env.allowLocalModels = true;

export type ReferencePooling = "mean" | "cls" | "max" | "lasttoken" | "mean_sqrt_len" | "weightedmean";

/** One row's pooled vector from its per-token vectors and mask, as sentence-transformers' Pooling module computes it. */
function reduce(rows: number[][], mask: number[], pooling: Exclude<ReferencePooling, "mean" | "cls">): number[] {
  const kept = rows.map((row, s) => ({ row, s })).filter(({ s }) => mask[s] === 1);
  if (pooling === "max") return kept[0]!.row.map((_, d) => Math.max(...kept.map(({ row }) => row[d]!)));
  if (pooling === "lasttoken") return kept[kept.length - 1]!.row;
  const weight = (s: number) => (pooling === "weightedmean" ? s + 1 : 1);
  const total = kept.reduce((sum, { s }) => sum + weight(s), 0);
  const divisor = pooling === "mean_sqrt_len" ? Math.sqrt(total) : total;
  return kept[0]!.row.map((_, d) => kept.reduce((sum, { row, s }) => sum + weight(s) * row[d]!, 0) / divisor);
}

interface TensorLike {
  tolist(): unknown;
}

export async function referenceEmbeddings(dir: string, dtype: string, texts: readonly string[], pooling: ReferencePooling, normalize: boolean): Promise<number[][]> {
  const extractor = (await pipeline("feature-extraction", dir, { dtype, local_files_only: true } as never)) as unknown as {
    (texts: string[], options: { pooling: string; normalize: boolean }): Promise<TensorLike>;
    dispose(): Promise<void>;
  };
  try {
    if (pooling === "mean" || pooling === "cls") return (await extractor([...texts], { pooling, normalize })).tolist() as number[][];
    const tokens = (await extractor([...texts], { pooling: "none", normalize: false })).tolist() as number[][][];
    const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    const mask = (tokenizer([...texts], { padding: true, truncation: true }) as { attention_mask: TensorLike }).attention_mask.tolist() as bigint[][];
    return tokens.map((rows, b) => {
      const vector = reduce(rows, mask[b]!.map(Number), pooling);
      if (!normalize) return vector;
      const length = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
      return vector.map((x) => x / length);
    });
  } finally {
    await extractor.dispose();
  }
}

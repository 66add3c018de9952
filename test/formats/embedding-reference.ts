// transformers.js as the reference for the encoder fixtures: its feature-extraction pipeline on the same files the
// server loads, over the same batch (int8 graphs quantize activations per batch, so a batch is compared with a batch).
// transformers.js pools by mean or first token itself; for max and last-token pooling, which its pipeline does not
// offer (its `last_token` takes the last padded position), the reference reduces the pipeline's per-token output
// with the tokenizer's attention mask, as sentence-transformers does.
import { AutoTokenizer, env, pipeline } from "@huggingface/transformers";

env.allowRemoteModels = false;
env.allowLocalModels = true;

export type ReferencePooling = "mean" | "cls" | "max" | "lasttoken";

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
      const kept = rows.filter((_, s) => Number(mask[b]![s]) === 1);
      const vector = pooling === "max" ? kept[0]!.map((_, d) => Math.max(...kept.map((row) => row[d]!))) : kept[kept.length - 1]!;
      if (!normalize) return vector;
      const length = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
      return vector.map((x) => x / length);
    });
  } finally {
    await extractor.dispose();
  }
}

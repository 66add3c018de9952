// The limit: a greedy decoding loop straight on onnxruntime-node, with the KV cache fed back as is (each step's
// present.* becomes the next past_key_values.*), no server, no tokenizer in the loop. Batch B runs B copies of the
// prompt in one session.run per step, which reads every weight once per step for all B sequences.
//
//   bun bench/raw-loop.ts '<RawLoopJob as JSON>'   → prints one RawLoopResult as JSON on the last stdout line
import { join } from "node:path";
import { readDecoderConfig } from "../src/engine/model-config.ts";
import { ort } from "../src/runtime/onnx.ts";
import { serverSessionOptions } from "./session-options.ts";
import { elapsedMs, now, repeatFor, summarize, type Decode, type PathFigures } from "./stats.ts";

export interface RawLoopJob {
  modelDir: string;
  onnxFile: string;
  threads: number;
  promptIds: number[];
  tokens: number;
  batches: number[];
  warmupTokens: number;
}

export interface RawLoopRun extends PathFigures {
  /** Sequences per session.run (tps and decodeTps are sums over them). */
  batch: number;
  /** Whether the faster of the two thread settings, reported here, was ONNX Runtime's default (threads spin). */
  spinning: boolean;
}

export interface RawLoopResult {
  /** Greedy continuation of the prompt (row 0 of the batch-1 run). */
  greedyIds: number[];
  /** Index of the first EOS in `greedyIds`, −1 when none: a server stops there. */
  eosAt: number;
  loadMs: number;
  /** What the first session added to this process's RSS once created (its loaded cost), in bytes. */
  rssModelBytes?: number;
  runs: RawLoopRun[];
}

function argmax(data: Float32Array, offset: number, vocab: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let j = 0; j < vocab; j++) {
    const v = data[offset + j] as number;
    if (v > bestValue) {
      bestValue = v;
      best = j;
    }
  }
  return best;
}

const int64 = (values: ArrayLike<number>, dims: number[]) =>
  new ort.Tensor("int64", BigInt64Array.from(Array.from(values), (v) => BigInt(v)), dims);

interface Shape {
  layers: number;
  kvHeads: number;
  headDim: number;
}

/** Greedy decode of `batch` copies of `prompt` for `tokens` new tokens; returns its timing and row 0's tokens. */
export async function greedyLoop(session: ort.InferenceSession, shape: Shape, prompt: number[], batch: number, tokens: number) {
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < shape.layers; i++) {
    for (const kind of ["key", "value"]) {
      feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor("float32", new Float32Array(0), [batch, shape.kvHeads, 0, shape.headDim]);
    }
  }
  const usesPositions = session.inputNames.includes("position_ids");
  let ids: number[] = Array.from({ length: batch }, () => prompt).flat();
  let seq = prompt.length;
  let past = 0;
  const out: number[] = [];
  const gapsMs: number[] = [];
  const t0 = now();
  let tFirst = t0;
  for (let n = 0; n < tokens; n++) {
    const tStep = now();
    const total = past + seq;
    feeds.input_ids = int64(ids, [batch, seq]);
    feeds.attention_mask = int64(new Array<number>(batch * total).fill(1), [batch, total]);
    if (usesPositions) {
      const pos = Array.from({ length: seq }, (_, i) => past + i);
      feeds.position_ids = int64(Array.from({ length: batch }, () => pos).flat(), [batch, seq]);
    }
    const res = await session.run(feeds);
    const logits = res.logits as ort.Tensor;
    const vocab = logits.dims[2] as number;
    const data = logits.data as Float32Array;
    const next = Array.from({ length: batch }, (_, b) => argmax(data, (b * seq + seq - 1) * vocab, vocab));
    out.push(next[0] as number);
    for (let i = 0; i < shape.layers; i++) {
      for (const kind of ["key", "value"]) feeds[`past_key_values.${i}.${kind}`] = res[`present.${i}.${kind}`] as ort.Tensor;
    }
    past = total;
    seq = 1;
    ids = next;
    const tEnd = now();
    if (n === 0) tFirst = tEnd;
    else gapsMs.push(elapsedMs(tStep, tEnd));
  }
  const decode: Decode = { rows: batch, tokens, startNs: t0, firstNs: tFirst, endNs: now(), gapsMs, deliveries: tokens };
  return { decode, ids: out };
}

export async function rawLoop(job: RawLoopJob): Promise<RawLoopResult> {
  const config = readDecoderConfig(job.modelDir);
  const promptIds = job.promptIds;
  const shape = { layers: config.numLayers, kvHeads: config.kvHeads, headDim: config.headDim };
  // The limit is the faster of ONNX Runtime's default (threads spin) and the server's default (they never do):
  // spinning wins on a quiet machine and loses badly on an oversubscribed one, and the raw loop is never handicapped.
  const runs: RawLoopRun[] = [];
  let greedyIds: number[] = [];
  let loadMs = 0;
  let rssModelBytes: number | undefined;
  for (const spinning of [true, false]) {
    const rssBefore = process.memoryUsage.rss();
    const t0 = now();
    const session = await ort.InferenceSession.create(join(job.modelDir, "onnx", job.onnxFile), serverSessionOptions(job.threads, spinning));
    rssModelBytes ??= process.memoryUsage.rss() - rssBefore;
    if (!spinning) loadMs = elapsedMs(t0, now());
    try {
      for (const [i, batch] of job.batches.entries()) {
        await greedyLoop(session, shape, promptIds, batch, job.warmupTokens);
        const results = await repeatFor(
          () => greedyLoop(session, shape, promptIds, batch, job.tokens),
          (r) => elapsedMs(r.decode.startNs, r.decode.endNs),
        );
        const run = { batch, spinning, ...summarize(results.map((r) => r.decode)) };
        if (!runs[i] || run.tps > runs[i]!.tps) runs[i] = run;
        if (batch === 1) greedyIds = results[0]?.ids ?? [];
      }
    } finally {
      await session.release();
    }
  }
  const eos = new Set(config.eosIds);
  return { greedyIds, eosAt: greedyIds.findIndex((t) => eos.has(t)), loadMs, rssModelBytes, runs };
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? "") as RawLoopJob;
  console.log(JSON.stringify(await rawLoop(job)));
}

// Decode speed of session variants side by side: every variant is loaded in this one process and the variants take
// turns, round after round, so that a shared machine's load disturbs them alike. Reports each variant's best and
// median round and its ratio to the first variant (median over rounds of the per-round ratio).
//
//   bun bench/session-speed.ts '<SpeedJob as JSON>'  → prints the figures as JSON on the last stdout line
import { resolve } from "node:path";
import { readDecoderConfig } from "../src/engine/model-config.ts";
import { ort } from "../src/runtime/onnx.ts";
import { serverSessionOptions } from "./session-options.ts";
import { elapsedMs, now, percentile } from "./stats.ts";

export interface SpeedVariant {
  name: string;
  file: string;
  /** Merged into the server's `extra.session` options, e.g. {"disable_prepacking": "1"}. */
  session?: Record<string, string>;
  /** Merged into the session options themselves, e.g. {"enableCpuMemArena": false}. */
  options?: Record<string, unknown>;
}

export interface SpeedJob {
  modelDir: string;
  threads: number;
  variants: SpeedVariant[];
  batches: number[];
  steps: number;
  rounds: number;
}

const int64 = (values: number[], dims: number[]) => new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), dims);

/**
 * Decode tokens/s (all rows) of `steps` one-token steps after a 32-token prompt, and the process's CPU time per token
 * (user + system, all threads; ONNX Runtime's threads do not spin here, so it counts work, not waiting): on a machine
 * shared with other jobs wall-clock rates swing with the load, CPU time much less.
 */
async function decodeRate(session: ort.InferenceSession, job: SpeedJob, rows: number): Promise<{ tps: number; cpuMsPerToken: number }> {
  const c = readDecoderConfig(job.modelDir);
  let feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < c.numLayers; i++) {
    for (const kind of ["key", "value"]) feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor("float32", new Float32Array(0), [rows, c.kvHeads, 0, c.headDim]);
  }
  let seq = 32;
  let past = 0;
  let ids = Array.from({ length: rows * seq }, (_, i) => (i * 7919) % c.vocabSize);
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  for (let n = 0; n <= job.steps; n++) {
    if (n === 1) {
      t0 = now();
      cpu0 = process.cpuUsage();
    }
    feeds.input_ids = int64(ids, [rows, seq]);
    feeds.attention_mask = int64(new Array<number>(rows * (past + seq)).fill(1), [rows, past + seq]);
    feeds.position_ids = int64(Array.from({ length: rows * seq }, (_, i) => past + (i % seq)), [rows, seq]);
    if (session.inputNames.includes("num_logits_to_keep")) feeds.num_logits_to_keep = int64([1], []);
    const out = await session.run(feeds);
    const next: Record<string, ort.Tensor> = {};
    for (let i = 0; i < c.numLayers; i++) {
      for (const kind of ["key", "value"]) next[`past_key_values.${i}.${kind}`] = out[`present.${i}.${kind}`]!;
    }
    feeds = next;
    past += seq;
    seq = 1;
    ids = Array.from({ length: rows }, (_, r) => (n * 31 + r) % c.vocabSize);
  }
  const wall = elapsedMs(t0, now());
  const cpu = process.cpuUsage(cpu0);
  return { tps: (job.steps * rows) / (wall / 1000), cpuMsPerToken: (cpu.user + cpu.system) / 1000 / (job.steps * rows) };
}

export async function speed(job: SpeedJob) {
  const sessions: ort.InferenceSession[] = [];
  for (const v of job.variants) {
    const options = serverSessionOptions(job.threads);
    const extra = options.extra as { session: Record<string, string> };
    options.extra = { ...extra, session: { ...extra.session, ...v.session } };
    Object.assign(options, v.options ?? {});
    sessions.push(await ort.InferenceSession.create(resolve(job.modelDir, "onnx", v.file), options));
  }
  const rates = job.variants.map(() => job.batches.map(() => [] as number[]));
  const cpu = job.variants.map(() => job.batches.map(() => [] as number[]));
  for (let round = 0; round < job.rounds; round++) {
    for (const [b, rows] of job.batches.entries()) {
      for (const [i, session] of sessions.entries()) {
        const r = await decodeRate(session, job, rows);
        rates[i]![b]!.push(r.tps);
        cpu[i]![b]!.push(r.cpuMsPerToken);
      }
    }
  }
  return job.variants.map((v, i) => ({
    name: v.name,
    batches: job.batches.map((rows, b) => {
      const own = rates[i]![b]!;
      const ratios = own.map((r, k) => r / rates[0]![b]![k]!);
      // CPU time of the first variant / this one's: above 1 means this variant does the same work in less CPU time.
      const cpuRatios = cpu[i]![b]!.map((c, k) => cpu[0]![b]![k]! / c);
      return {
        rows,
        best: Math.max(...own),
        median: percentile(own, 50),
        ratioToFirst: percentile(ratios, 50),
        cpuMsPerToken: percentile(cpu[i]![b]!, 50),
        cpuRatioToFirst: percentile(cpuRatios, 50),
      };
    }),
  }));
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? "") as SpeedJob;
  console.log(JSON.stringify(await speed(job)));
}

// What a bare onnxruntime-node session costs in memory, and how fast it decodes, for one set of session options and
// one way of loading: one child process per variant, so every figure starts from the same empty process.
//
//   bun bench/session-memory.ts '<SessionProbeJob as JSON>'  → prints one SessionProbeResult as JSON on the last line
//
// Figures: RSS (VmRSS, split into anonymous and file-backed pages) after loading and after a mixed prefill, the peak
// (VmHWM), and decode tokens/s at batch 1 and 8. The prefill is the server's worst ordinary case: one long prompt
// prefilled next to seven one-token prompts in one left-padded run.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { readDecoderConfig } from "../src/engine/model-config.ts";
import { releaseFreeHeap } from "../src/runtime/heap.ts";
import { ort } from "../src/runtime/onnx.ts";
import { serverSessionOptions } from "./session-options.ts";
import { elapsedMs, now } from "./stats.ts";

export interface SessionProbeJob {
  /** The model folder (config.json) and the ONNX (or ORT-format) file to open. */
  modelDir: string;
  file: string;
  threads: number;
  /** Merged over the server's options; `extra.session` keys are merged too. */
  options?: Record<string, unknown>;
  /** path: ORT reads the file; buffer: the file read into a JS buffer; mmap: the file mapped by Bun.mmap. */
  load: "path" | "buffer" | "mmap";
  /** Tokens of the long prompt of the mixed prefill (0 skips it) and decode steps timed per batch size (0 skips). */
  longPrompt: number;
  decodeSteps: number;
  /** Hand the C heap's free pages back to the system after loading and after each phase (glibc malloc_trim). */
  trim?: boolean;
}

export interface MemoryReading {
  rssMiB: number;
  anonMiB: number;
  fileMiB: number;
  peakMiB: number;
}

export interface SessionProbeResult {
  baseline: MemoryReading;
  loaded: MemoryReading;
  afterPrefill?: MemoryReading;
  afterDecode: MemoryReading;
  loadMs: number;
  prefillMs?: number;
  /** Decode tokens/s (sum over rows) at batch 1 and batch 8, after a 32-token prompt. */
  decode1Tps: number;
  decode8Tps: number;
  /** Greedy ids of batch 1, to check that variants compute the same thing. */
  greedy: number[];
}

export function readMemory(pid: number | "self" = "self"): MemoryReading {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1] ?? Number.NaN);
  const mib = (key: string) => Math.round((kb(key) / 1024) * 10) / 10;
  return { rssMiB: mib("VmRSS"), anonMiB: mib("RssAnon"), fileMiB: mib("RssFile"), peakMiB: mib("VmHWM") };
}

let trimHeap = false;

async function settled(): Promise<MemoryReading> {
  Bun.gc(true);
  if (trimHeap) releaseFreeHeap();
  await Bun.sleep(250);
  return readMemory();
}

function options(job: SessionProbeJob): ort.InferenceSession.SessionOptions {
  const base = serverSessionOptions(job.threads) as Record<string, unknown>;
  const extra = (job.options?.extra ?? {}) as { session?: Record<string, unknown> };
  const baseExtra = base.extra as { session: Record<string, unknown> };
  return {
    ...base,
    ...job.options,
    extra: { ...baseExtra, ...extra, session: { ...baseExtra.session, ...(extra.session ?? {}) } },
  } as ort.InferenceSession.SessionOptions;
}

const int64 = (values: ArrayLike<number>, dims: number[]) =>
  new ort.Tensor("int64", BigInt64Array.from(Array.from(values), (v) => BigInt(v)), dims);

interface Shape {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
}

function emptyPast(shape: Shape, rows: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < shape.layers; i++) {
    for (const kind of ["key", "value"]) {
      feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor("float32", new Float32Array(0), [rows, shape.kvHeads, 0, shape.headDim]);
    }
  }
  return feeds;
}

/**
 * What the scheduler runs for one `long`-token prompt arriving with seven one-token prompts (prefill chunk 256): the
 * long prompt's first 256 tokens alone, then its rest left-padded next to the seven one-token prompts in one run.
 */
async function mixedPrefill(session: ort.InferenceSession, shape: Shape, long: number): Promise<void> {
  const first = Math.min(256, long);
  const head = await run(session, shape, [Array.from({ length: first }, (_, j) => (j * 7919) % shape.vocab)], 0);
  const rest = long - first;
  if (rest === 0) return;
  const rows = [Array.from({ length: rest }, (_, j) => ((first + j) * 7919) % shape.vocab)];
  for (let r = 1; r < 8; r++) rows.push([(r * 104729) % shape.vocab]);
  await run(session, shape, rows, first, head);
}

/** One left-padded run of `rows` after `cached` positions of row 0 (its cache `head`; other rows have none). */
async function run(session: ort.InferenceSession, shape: Shape, rows: number[][], cached: number, head?: ort.InferenceSession.OnnxValueMapType) {
  const count = rows.length;
  const seq = Math.max(...rows.map((r) => r.length));
  const width = cached + seq;
  const ids = new Array<number>(count * seq).fill(0);
  const pos = new Array<number>(count * seq).fill(0);
  const mask = new Array<number>(count * width).fill(0);
  rows.forEach((row, r) => {
    const pad = seq - row.length;
    const past = r === 0 ? cached : 0;
    row.forEach((id, j) => {
      ids[r * seq + pad + j] = id;
      pos[r * seq + pad + j] = past + j;
    });
    mask.fill(1, r * width + cached - past, r * width + cached).fill(1, r * width + cached + pad, (r + 1) * width);
  });
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < shape.layers; i++) {
    for (const kind of ["key", "value"]) {
      const data = new Float32Array(count * shape.kvHeads * cached * shape.headDim);
      const src = head?.[`present.${i}.${kind}`]?.data as Float32Array | undefined;
      if (src) data.set(src.subarray(0, shape.kvHeads * cached * shape.headDim));
      feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor("float32", data, [count, shape.kvHeads, cached, shape.headDim]);
    }
  }
  feeds.input_ids = int64(ids, [count, seq]);
  feeds.attention_mask = int64(mask, [count, width]);
  if (session.inputNames.includes("position_ids")) feeds.position_ids = int64(pos, [count, seq]);
  if (session.inputNames.includes("num_logits_to_keep")) feeds.num_logits_to_keep = int64([1], []);
  return session.run(feeds);
}

/** Greedy decode of `rows` copies of a 32-token prompt; returns decode tokens/s after the prompt and row 0's ids. */
async function decode(session: ort.InferenceSession, shape: Shape, rows: number, steps: number) {
  const prompt = Array.from({ length: 32 }, (_, i) => (i * 31337 + 11) % shape.vocab);
  let feeds: Record<string, ort.Tensor> = emptyPast(shape, rows);
  let ids = Array.from({ length: rows }, () => prompt).flat();
  let seq = prompt.length;
  let past = 0;
  const greedy: number[] = [];
  let t0 = 0;
  for (let n = 0; n <= steps; n++) {
    if (n === 1) t0 = now();
    const total = past + seq;
    feeds.input_ids = int64(ids, [rows, seq]);
    feeds.attention_mask = int64(new Array<number>(rows * total).fill(1), [rows, total]);
    if (session.inputNames.includes("position_ids")) {
      feeds.position_ids = int64(Array.from({ length: rows }, () => Array.from({ length: seq }, (_, i) => past + i)).flat(), [rows, seq]);
    }
    if (session.inputNames.includes("num_logits_to_keep")) feeds.num_logits_to_keep = int64([1], []);
    const out = await session.run(feeds);
    const logits = out.logits!.data as Float32Array;
    const perRow = logits.length / rows;
    const next: number[] = [];
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let j = 1; j < shape.vocab; j++) if (logits[(r + 1) * perRow - shape.vocab + j]! > logits[(r + 1) * perRow - shape.vocab + best]!) best = j;
      next.push(best);
    }
    greedy.push(next[0]!);
    const nextFeeds: Record<string, ort.Tensor> = {};
    for (let i = 0; i < shape.layers; i++) {
      for (const kind of ["key", "value"]) nextFeeds[`past_key_values.${i}.${kind}`] = out[`present.${i}.${kind}`]!;
    }
    feeds = nextFeeds;
    past = total;
    seq = 1;
    ids = next;
  }
  return { tps: (steps * rows) / (elapsedMs(t0, now()) / 1000), greedy };
}

export async function probe(job: SessionProbeJob): Promise<SessionProbeResult> {
  const config = readDecoderConfig(job.modelDir);
  const shape = { layers: config.numLayers, kvHeads: config.kvHeads, headDim: config.headDim, vocab: config.vocabSize };
  const path = resolve(job.modelDir, "onnx", job.file);
  trimHeap = job.trim ?? false;
  const baseline = await settled();
  const t0 = now();
  const opts = options(job);
  let bytes: Uint8Array | undefined;
  let session: ort.InferenceSession;
  if (job.load === "path") session = await ort.InferenceSession.create(path, opts);
  else {
    bytes = job.load === "mmap" ? Bun.mmap(path, { shared: false }) : new Uint8Array(readFileSync(path));
    session = await ort.InferenceSession.create(bytes, opts);
  }
  const loadMs = elapsedMs(t0, now());
  const loaded = await settled();
  let afterPrefill: MemoryReading | undefined;
  let prefillMs: number | undefined;
  if (job.longPrompt > 0) {
    const t1 = now();
    await mixedPrefill(session, shape, job.longPrompt);
    prefillMs = elapsedMs(t1, now());
    afterPrefill = await settled();
  }
  // decodeSteps 0: loading only (also for graphs whose cache is not float32, which this loop does not feed).
  const none = { tps: Number.NaN, greedy: [] as number[] };
  const one = job.decodeSteps > 0 ? await decode(session, shape, 1, job.decodeSteps) : none;
  const eight = job.decodeSteps > 0 ? await decode(session, shape, 8, job.decodeSteps) : none;
  const afterDecode = await settled();
  void bytes?.byteLength; // the session may use these bytes in place: keep them alive to the end
  await session.release();
  return { baseline, loaded, afterPrefill, afterDecode, loadMs, prefillMs, decode1Tps: one.tps, decode8Tps: eight.tps, greedy: one.greedy.slice(0, 16) };
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? "") as SessionProbeJob;
  console.log(JSON.stringify(await probe(job)));
}

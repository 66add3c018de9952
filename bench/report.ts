// The bench's results as data (what bench/results.json holds), the targets checked against them, and the
// flat metric names other tooling reads. Schema changes bump SCHEMA.
import type { ModelKey } from "./args.ts";
import type { ConstrainedRow } from "./constrained.ts";
import type { LastPositionResult } from "./last-position-logits.ts";
import type { MemoryTableData } from "./memory-table.ts";
import type { EmbeddingsNextToStreamsRow } from "./embeddings-next-to-streams.ts";
import { contextMetrics, type ContextResult } from "./contexts.ts";
import type { ConcurrencyResult } from "./http-streams.ts";
import type { LeakResult } from "./memory.ts";
import type { RawLoopRun } from "./raw-loop.ts";
import type { PathFigures } from "./stats.ts";
import type { GenerateResult } from "./transformers-generate.ts";

export const SCHEMA = 2;


export interface ModelReport {
  key: ModelKey;
  /** The model id the server was asked for. */
  model: string;
  /** ONNX file under the model folder, and its size. */
  file: string;
  fileBytes: number;
  promptTokens: number;
  tokens: number;
  /** Where greedy decoding of the prompt first emits an EOS (−1: not within `tokens`); streams would stop there. */
  eosAt: number;
  /** 1-minute load average when this model's measurements started and ended (other work on the machine). */
  loadavg1m: [number, number];
  /** The headline figures of every interleaved round; the tables show each path's best round. */
  rounds: RoundSample[];
  raw: { loadMs: number; single: RawLoopRun; batch: RawLoopRun; rssModelBytes?: number };
  transformers?: GenerateResult;
  server: {
    /** The first request, which loads the model. */
    loadMs: number;
    rssStartBytes: number;
    rssLoadedBytes: number;
    rssEndBytes: number;
    /** The 1-stream run of the sweep: `perStream` holds the figures of a single client. */
    single: ConcurrencyResult;
    sweep: ConcurrencyResult[];
  };
  leak?: LeakResult;
  /** `--contexts`: long prompts and chat turns. */
  contexts?: ContextResult[];
}

export interface RoundSample {
  rawB1Tps: number;
  rawBatchTps: number;
  transformersTps?: number;
  httpC1Tps: number;
  httpBatchTps: number;
  loadavg1m: number;
}

export interface BenchReport {
  schema: number;
  date: string;
  machine: { cores: number; cpu: string; memoryBytes: number; loadavgStart: number[]; loadavgEnd: number[] };
  versions: { bun: string; onnxruntime: string; transformers: string };
  server: string;
  threads: number;
  rounds: number;
  quick: boolean;
  /** Tokens/s of chat requests with and without a JSON schema (bench/constrained.ts). */
  constrained?: ConstrainedRow[];
  /** Peak server RSS of one long + seven one-token prefill, logits for the last positions only vs all (bench/last-position-logits.ts). */
  lastPositionLogits?: LastPositionResult;
  /** The memory table (bench/memory-table.ts). */
  memory?: MemoryTableData;
  /** Stream inter-token latency alone and next to 256-input embeddings requests (bench/embeddings-next-to-streams.ts). */
  embeddingsNextToStreams?: EmbeddingsNextToStreamsRow[];
  durationS: number;
  models: ModelReport[];
  targets: TargetCheck[];
  metrics: Record<string, number>;
}

export interface TargetCheck {
  model: ModelKey;
  name: string;
  /** The measured ratio. */
  measured: number;
  target: number;
  /** ">=": measured must reach the target; "<=": must stay under it. */
  op: ">=" | "<=";
  pass: boolean;
}

function check(model: ModelKey, name: string, measured: number, op: ">=" | "<=", target: number): TargetCheck {
  const pass = Number.isFinite(measured) && (op === ">=" ? measured >= target : measured <= target);
  return { model, name, measured, target, op, pass };
}

export function sweepAt(m: ModelReport, streams: number): ConcurrencyResult | undefined {
  return m.server.sweep.find((r) => r.streams === streams);
}

/** The targets: bench models against the raw loop and transformers.js, the tiny model against the raw loop. */
export function targetChecks(models: readonly ModelReport[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const m of models) {
    const single = m.server.single.perStream.tps;
    if (m.key === "tiny") {
      checks.push(check(m.key, "1 stream ≥ 0.7× raw loop", single / m.raw.single.tps, ">=", 0.7));
      if (m.leak) checks.push(check(m.key, `RSS after ${m.leak.requests} requests ≤ 1.05× after ${m.leak.checkpoint}`, m.leak.ratio, "<=", 1.05));
      continue;
    }
    checks.push(check(m.key, "1 stream ≥ 0.95× raw loop", single / m.raw.single.tps, ">=", 0.95));
    if (m.transformers) checks.push(check(m.key, "1 stream ≥ 1.0× transformers.js", single / m.transformers.tps, ">=", 1.0));
    const at = sweepAt(m, m.raw.batch.batch);
    if (at) {
      const name = `${at.streams} streams ≥ 0.85× raw batch-${m.raw.batch.batch} loop`;
      checks.push(check(m.key, name, at.aggregateTps / m.raw.batch.tps, ">=", 0.85));
    }
  }
  return checks;
}

/** Every figure under a stable dotted name, e.g. "bench-fp32.http.c8.aggregate_tps". */
export function flatMetrics(models: readonly ModelReport[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of models) {
    const put = (name: string, value: number) => (out[`${m.key}.${name}`] = value);
    put("prompt_tokens", m.promptTokens);
    put("tokens", m.tokens);
    const paths: [string, PathFigures | undefined][] = [
      ["raw.b1", m.raw.single],
      [`raw.b${m.raw.batch.batch}`, m.raw.batch],
      ["transformers", m.transformers],
      ["http.c1", m.server.single.perStream],
    ];
    for (const [name, f] of paths) {
      if (!f) continue;
      put(`${name}.tps`, f.tps);
      put(`${name}.decode_tps`, f.decodeTps);
      put(`${name}.ttft_ms`, f.ttftMs);
      put(`${name}.step_p50_ms`, f.stepP50Ms);
    }
    put("http.load_ms", m.server.loadMs);
    if (m.contexts) contextMetrics(m.contexts, put);
    for (const r of m.server.sweep) {
      put(`http.c${r.streams}.aggregate_tps`, r.aggregateTps);
      put(`http.c${r.streams}.ttft_p50_ms`, r.ttftP50Ms);
      put(`http.c${r.streams}.ttft_p95_ms`, r.ttftP95Ms);
      put(`http.c${r.streams}.itl_p50_ms`, r.itlP50Ms);
      put(`http.c${r.streams}.itl_p95_ms`, r.itlP95Ms);
      if (r.healthz) {
        put(`http.c${r.streams}.healthz_p50_ms`, r.healthz.p50Ms);
        put(`http.c${r.streams}.healthz_p99_ms`, r.healthz.p99Ms);
      }
    }
    put("server.rss_start_mb", m.server.rssStartBytes / 2 ** 20);
    put("server.rss_loaded_mb", m.server.rssLoadedBytes / 2 ** 20);
    put("server.rss_end_mb", m.server.rssEndBytes / 2 ** 20);
    put("server.model_cost_x_file", (m.server.rssLoadedBytes - m.server.rssStartBytes) / m.fileBytes);
    if (m.raw.rssModelBytes !== undefined) put("raw.model_cost_x_file", m.raw.rssModelBytes / m.fileBytes);
    if (m.leak) {
      put(`leak.rss_after_${m.leak.checkpoint}_mb`, m.leak.rssCheckpointBytes / 2 ** 20);
      put(`leak.rss_after_${m.leak.requests}_mb`, m.leak.rssEndBytes / 2 ** 20);
      put("leak.ratio", m.leak.ratio);
    }
  }
  for (const c of targetChecks(models)) out[`${c.model}.target.${slug(c.name)}`] = c.measured;
  return out;
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/≥/g, "ge")
    .replace(/≤/g, "le")
    .replace(/×/g, "x")
    .replace(/[^a-z0-9.]+/g, "_")
    .replace(/^_|_$/g, "");
}

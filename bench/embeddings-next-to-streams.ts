// Inter-token latency of a stream alone and while 256-input embeddings requests run back to back on the same server,
// side by side (interleaved rounds) in one run. Embeddings models run in their own worker, so decoding should barely
// notice them. Run by `bun run bench` (its "Embeddings next to streams" table) or alone:
// `bun bench/embeddings-next-to-streams.ts [--rounds N] [--model bench-fp32|bench-int8|tiny] [--server-ref REF]
// [--server-args "..."]...`.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MODEL_KEYS, type ModelKey } from "./args.ts";
import { asDecode, timedStream } from "./http-streams.ts";
import { benchModel, ensureModels, promptIds, type BenchModel } from "./models.ts";
import { REPO_ROOT, serverTarget, startBenchServer, type ServerTarget } from "./server.ts";
import { elapsedMs, now, percentile } from "./stats.ts";
import { markdownTable, num } from "./table.ts";

export interface EmbeddingsNextToStreamsRow {
  streamModel: string;
  /** Extra server flags of this row (e.g. --auxiliary-threads 2); empty: the defaults. */
  serverFlags: string;
  mode: "alone" | "with embeddings";
  streams: number;
  gaps: number;
  itlP50Ms: number;
  itlP90Ms: number;
  itlMaxMs: number;
  /** Embeddings requests that ran during the streams, and their mean latency. */
  embeddingsRequests: number;
  embeddingsMeanMs: number;
}

export const EMBEDDINGS_MODEL = "tiny-bert";
/** 256 inputs of about 125 tokens each: the largest request tiny-bert (128 positions) takes without truncating. */
const INPUTS = Array.from({ length: 256 }, (_, i) => `${i} ${"river ".repeat(120)}`);

async function embed(baseURL: string): Promise<number> {
  const t = now();
  const response = await fetch(`${baseURL}/v1/embeddings`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: EMBEDDINGS_MODEL, input: INPUTS }),
  });
  if (!response.ok) throw new Error(`POST /v1/embeddings: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
  return elapsedMs(t, now());
}

/** Embeddings requests one after another until `done` settles; each one's latency. */
async function embedUntil(baseURL: string, done: Promise<unknown>): Promise<number[]> {
  let finished = false;
  void done.finally(() => (finished = true));
  const latencies: number[] = [];
  while (!finished) latencies.push(await embed(baseURL));
  return latencies;
}

/** One server with `flags`: `rounds` × (a stream alone, then the same stream next to embeddings requests). */
async function measureFlags(target: ServerTarget, m: BenchModel, tokens: number, threads: number, flags: string[], rounds: number) {
  const dir = mkdtempSync(join(tmpdir(), "gpt3dev-bench-embeddings-"));
  const registry = join(dir, "registry.json");
  const models = [
    { name: m.serverModel, path: m.dir, dtype: m.dtype },
    { name: EMBEDDINGS_MODEL, path: join(REPO_ROOT, "models", EMBEDDINGS_MODEL) },
  ];
  writeFileSync(registry, JSON.stringify({ models }));
  const server = await startBenchServer(target, ["--registry", registry, "--threads", String(threads), ...flags]);
  try {
    const req = { model: m.serverModel, promptIds: await promptIds(m), tokens };
    // Both models load (and warm up) outside the timings.
    await timedStream(server.baseURL, { ...req, tokens: 4 });
    await embed(server.baseURL);
    const gaps = { alone: [] as number[], with: [] as number[] };
    const latencies: number[] = [];
    for (let round = 0; round < rounds; round++) {
      gaps.alone.push(...asDecode(await timedStream(server.baseURL, req)).gapsMs);
      const stream = timedStream(server.baseURL, req);
      const embeddings = embedUntil(server.baseURL, stream);
      gaps.with.push(...asDecode(await stream).gapsMs);
      latencies.push(...(await embeddings));
    }
    const row = (mode: EmbeddingsNextToStreamsRow["mode"], values: number[], embedded: number[]): EmbeddingsNextToStreamsRow => ({
      streamModel: m.serverModel,
      serverFlags: flags.join(" "),
      mode,
      streams: rounds,
      gaps: values.length,
      itlP50Ms: percentile(values, 50),
      itlP90Ms: percentile(values, 90),
      itlMaxMs: Math.max(...values),
      embeddingsRequests: embedded.length,
      embeddingsMeanMs: embedded.length ? embedded.reduce((a, b) => a + b, 0) / embedded.length : 0,
    });
    return [row("alone", gaps.alone, []), row("with embeddings", gaps.with, latencies)];
  } finally {
    await server.stop();
  }
}

/** One server per entry of `flagSets` (e.g. [[], ["--auxiliary-threads", "2"]]), each measured alone and with embeddings. */
export async function measureEmbeddingsNextToStreams(
  target: ServerTarget,
  opts: { model: ModelKey; tokens: number; threads: number; rounds: number; flagSets: string[][] },
  log: (line: string) => void,
): Promise<EmbeddingsNextToStreamsRow[]> {
  const m = benchModel(opts.model);
  const rows: EmbeddingsNextToStreamsRow[] = [];
  for (const flags of opts.flagSets) {
    log(`stream ITL on ${m.serverModel} alone and next to 256-input embeddings requests${flags.length ? ` (${flags.join(" ")})` : ""}`);
    rows.push(...(await measureFlags(target, m, opts.tokens, opts.threads, flags, opts.rounds)));
  }
  return rows;
}

export function embeddingsNextToStreamsTable(rows: readonly EmbeddingsNextToStreamsRow[]): string {
  const alone = new Map(rows.filter((r) => r.mode === "alone").map((r) => [r.serverFlags, r]));
  const body = rows.map((r) => {
    const base = alone.get(r.serverFlags)!;
    const x = (value: number, of: number) => (r === base ? "–" : `${num(value / of, 2)}×`);
    return [
      r.streamModel,
      r.serverFlags || "defaults",
      r.mode,
      String(r.gaps),
      num(r.itlP50Ms, 1),
      num(r.itlP90Ms, 1),
      num(r.itlMaxMs, 1),
      x(r.itlP50Ms, base.itlP50Ms),
      x(r.itlP90Ms, base.itlP90Ms),
      x(r.itlMaxMs, base.itlP50Ms),
      r.embeddingsRequests ? `${r.embeddingsRequests} × ${num(r.embeddingsMeanMs, 0)} ms` : "–",
    ];
  });
  return markdownTable(
    ["stream model", "server flags", "stream", "gaps", "ITL p50 ms", "p90 ms", "max ms", "p50 × alone", "p90 × alone", "max × alone p50", "embeddings requests"],
    body,
    ["left", "left", "left", "right", "right", "right", "right", "right", "right", "right", "right"],
  );
}

if (import.meta.main) {
  const arg = (flag: string) => {
    const at = process.argv.indexOf(flag);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const model = (arg("--model") ?? "bench-fp32") as ModelKey;
  if (!MODEL_KEYS.includes(model)) throw new Error(`--model: one of ${MODEL_KEYS.join(", ")}`);
  await ensureModels([model], (l) => console.error(`[bench] ${l}`));
  // Each --server-args is one server, measured in turn ("" for the defaults).
  const flagSets = process.argv.flatMap((v, i) => (process.argv[i - 1] === "--server-args" ? [v.split(/\s+/).filter(Boolean)] : []));
  const rows = await measureEmbeddingsNextToStreams(
    await serverTarget({ binary: false, ref: arg("--server-ref") }),
    {
      model,
      tokens: Number(arg("--tokens") ?? 128),
      threads: Number(arg("--threads") ?? navigator.hardwareConcurrency),
      rounds: Number(arg("--rounds") ?? 3),
      flagSets: flagSets.length ? flagSets : [[]],
    },
    (l) => console.error(`[bench] ${l}`),
  );
  console.log(`## Embeddings next to streams\n\n${embeddingsNextToStreamsTable(rows)}`);
}

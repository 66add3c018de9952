// `bun run bench`: the raw ONNX Runtime loop, transformers.js generate() and gpt3dev over HTTP on the same model
// file with the same thread settings, one after the other (never two at once), as Markdown tables on stdout and as
// data in bench/results.json. Progress goes to stderr. See bench/README.md.
import { statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { ArgsError, parseArgs, tokensFor, USAGE, type BenchOptions } from "./args.ts";
import { concurrentStreams, timedStream, type ConcurrencyResult } from "./http-streams.ts";
import { leakRun } from "./memory.ts";
import { BENCH_MODELS_DIR, benchModel, ensureModels, promptIds, type BenchModel } from "./models.ts";
import type { RawLoopJob, RawLoopResult } from "./raw-loop.ts";
import { flatMetrics, SCHEMA, targetChecks, type BenchReport, type ModelReport } from "./report.ts";
import { REPO_ROOT, serverTarget, startBenchServer, type ServerTarget } from "./server.ts";
import { elapsedMs, now, rssBytes } from "./stats.ts";
import { renderReport } from "./table.ts";
import type { GenerateJob, GenerateResult } from "./transformers-generate.ts";
import { ortVersion } from "../src/runtime/onnx.ts";
import { transformersVersion } from "../src/runtime/transformers.ts";

const WARMUP_TOKENS = 8;
const log = (line: string) => console.error(`[bench] ${line}`);

/** Runs one measurement in its own process (its own ORT sessions and memory) and returns its JSON answer. */
async function child<T>(script: string, job: unknown): Promise<T> {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, script), JSON.stringify(job)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ORT_DISABLE_TELEMETRY: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const last = out.trim().split("\n").at(-1);
  if (code !== 0 || !last) throw new Error(`${script} failed (exit ${code}):\n${err}${out}`);
  return JSON.parse(last) as T;
}

async function measureServer(target: ServerTarget, opts: BenchOptions, m: BenchModel, ids: number[], tokens: number) {
  const server = await startBenchServer(target, [...m.serverArgs, "--threads", String(opts.threads), "--max-loaded-models", "1"]);
  try {
    const req = { model: m.serverModel, promptIds: ids, tokens };
    const rssStartBytes = await rssBytes(server.pid);
    const t0 = now();
    await timedStream(server.baseURL, { ...req, tokens: Math.min(WARMUP_TOKENS, tokens) });
    const loadMs = elapsedMs(t0, now());
    await concurrentStreams(server.baseURL, { ...req, tokens: Math.min(WARMUP_TOKENS, tokens) }, opts.rawBatch);
    const rssLoadedBytes = await rssBytes(server.pid);
    const sweep: ConcurrencyResult[] = [];
    for (const streams of opts.streams) {
      log(`${m.key}: gpt3dev, ${streams} concurrent stream(s) of ${tokens} tokens`);
      const r = await concurrentStreams(server.baseURL, req, streams, streams === opts.rawBatch);
      if (r.tokens !== streams * tokens) log(`${m.key}: ${r.tokens} tokens came back, ${streams * tokens} asked for (EOS?)`);
      sweep.push(r);
    }
    const single = sweep.find((r) => r.streams === 1) ?? (await concurrentStreams(server.baseURL, req, 1));
    return { loadMs, rssStartBytes, rssLoadedBytes, rssEndBytes: await rssBytes(server.pid), single, sweep };
  } catch (error) {
    console.error(server.output());
    throw error;
  } finally {
    await server.stop();
  }
}

async function measureLeak(target: ServerTarget, opts: BenchOptions) {
  const models = { text: "tiny-gpt2", chat: "tiny-llama", embeddings: "tiny-bert" };
  const args = ["--models-dir", join(REPO_ROOT, "models"), "--allow-models", Object.values(models).join(","), "--max-loaded-models", "3"];
  const server = await startBenchServer(target, [...args, "--threads", String(opts.threads)]);
  try {
    log(`tiny: ${opts.leakRequests} mixed requests, RSS after ${opts.leakCheckpoint} and after all`);
    return await leakRun({ baseURL: server.baseURL, pid: server.pid, models, requests: opts.leakRequests, checkpoint: opts.leakCheckpoint, concurrency: 4 });
  } catch (error) {
    console.error(server.output());
    throw error;
  } finally {
    await server.stop();
  }
}

async function measureModel(target: ServerTarget, opts: BenchOptions, m: BenchModel): Promise<ModelReport> {
  const ids = await promptIds(m);
  const tokens = tokensFor(opts, m.key, m.contextLength, ids.length);
  log(`${m.key}: raw ONNX Runtime loop, batch 1 and ${opts.rawBatch}, ${tokens} tokens`);
  const rawJob: RawLoopJob = {
    modelDir: m.dir,
    onnxFile: m.file,
    threads: opts.threads,
    promptIds: ids,
    tokens,
    batches: [1, opts.rawBatch],
    warmupTokens: WARMUP_TOKENS,
  };
  const raw = await child<RawLoopResult>("raw-loop.ts", rawJob);
  let transformers: GenerateResult | undefined;
  if (opts.transformers) {
    log(`${m.key}: transformers.js generate()`);
    const job: GenerateJob = { modelDir: m.dir, dtype: m.dtype, threads: opts.threads, promptIds: ids, tokens, warmupTokens: WARMUP_TOKENS };
    transformers = await child<GenerateResult>("transformers-generate.ts", job);
  }
  const server = await measureServer(target, opts, m, ids, tokens);
  const [single, batch] = raw.runs;
  if (!single || !batch) throw new Error("raw loop returned no runs");
  return {
    key: m.key,
    model: m.serverModel,
    file: `onnx/${m.file}`,
    fileBytes: statSync(join(m.dir, "onnx", m.file)).size,
    promptTokens: ids.length,
    tokens,
    eosAt: raw.eosAt,
    raw: { loadMs: raw.loadMs, single, batch },
    transformers,
    server,
    leak: m.key === "tiny" ? await measureLeak(target, opts) : undefined,
  };
}

async function main(): Promise<void> {
  let opts: BenchOptions;
  try {
    opts = parseArgs(process.argv.slice(2), navigator.hardwareConcurrency, join(import.meta.dir, "results.json"));
  } catch (error) {
    if (!(error instanceof ArgsError)) throw error;
    console.error(`bench: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (opts.help) return void console.log(USAGE);
  const t0 = now();
  const loadavgStart = loadavg();
  await ensureModels(opts.models, log);
  const target = await serverTarget({ binary: opts.binary, ref: opts.serverRef });
  log(`server: ${target.label}; ${opts.threads} threads; models ${opts.models.join(", ")} (bench models in ${BENCH_MODELS_DIR})`);
  const models: ModelReport[] = [];
  for (const key of opts.models) models.push(await measureModel(target, opts, benchModel(key)));
  const report: BenchReport = {
    schema: SCHEMA,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    machine: { cores: navigator.hardwareConcurrency, cpu: cpus()[0]?.model.trim() ?? "?", memoryBytes: totalmem(), loadavgStart, loadavgEnd: loadavg() },
    versions: { bun: Bun.version, onnxruntime: ortVersion, transformers: transformersVersion },
    server: target.label,
    threads: opts.threads,
    quick: opts.quick,
    durationS: elapsedMs(t0, now()) / 1000,
    models,
    targets: targetChecks(models),
    metrics: flatMetrics(models),
  };
  const out = resolve(opts.out);
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(renderReport(report));
  log(`results written to ${out}`);
}

await main();

// Measuring one model: the server is started once and loaded; then, in each of `rounds` interleaved rounds, the raw
// loop (batch 1 and B), transformers.js generate() and the server at 1 and B streams run one after the other, each
// path alone on the machine (the idle server does not spin). Each path reports its best round: on a shared box the
// least disturbed sample is the closest to what the code can do. The other concurrency levels run once afterwards.
import { statSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { tokensFor, type BenchOptions } from "./args.ts";
import { measureContexts } from "./contexts.ts";
import { concurrentStreams, timedStream, type ConcurrencyResult } from "./http-streams.ts";
import { leakRun, type LeakResult } from "./memory.ts";
import { promptIds, type BenchModel } from "./models.ts";
import type { LlamaResult } from "./llama-cpp.ts";
import type { RawLoopJob, RawLoopResult, RawLoopRun } from "./raw-loop.ts";
import type { ModelReport, RoundSample } from "./report.ts";
import { REPO_ROOT, startBenchServer, type BenchServer, type ServerTarget } from "./server.ts";
import { elapsedMs, now, rssBytes } from "./stats.ts";
import type { GenerateJob, GenerateResult } from "./transformers-generate.ts";

const WARMUP_TOKENS = 8;

export interface MeasureContext {
  target: ServerTarget;
  opts: BenchOptions;
  log: (line: string) => void;
}

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

function best<T>(items: readonly T[], score: (item: T) => number): T {
  return items.reduce((a, b) => (score(b) > score(a) ? b : a));
}

async function withServer<T>(ctx: MeasureContext, args: string[], body: (server: BenchServer) => Promise<T>): Promise<T> {
  const server = await startBenchServer(ctx.target, [...args, "--threads", String(ctx.opts.threads), ...ctx.opts.serverArgs]);
  try {
    return await body(server);
  } catch (error) {
    console.error(server.output());
    throw error;
  } finally {
    await server.stop();
  }
}

export async function measureModel(ctx: MeasureContext, m: BenchModel): Promise<ModelReport> {
  const { opts, log } = ctx;
  const ids = await promptIds(m);
  const tokens = tokensFor(opts, m.key, m.contextLength, ids.length);
  const B = opts.rawBatch;
  const rawJob: RawLoopJob = { modelDir: m.dir, onnxFile: m.file, threads: opts.threads, promptIds: ids, tokens, batches: [1, B], warmupTokens: WARMUP_TOKENS };
  const tjsJob: GenerateJob = { modelDir: m.dir, dtype: m.dtype, threads: opts.threads, promptIds: ids, tokens, warmupTokens: WARMUP_TOKENS };
  const req = { model: m.serverModel, promptIds: ids, tokens };
  const loadavgStart = loadavg()[0] as number;
  return withServer(ctx, [...m.serverArgs, "--max-loaded-models", "1"], async (server) => {
    const rssStartBytes = await rssBytes(server.pid);
    const t0 = now();
    await timedStream(server.baseURL, { ...req, tokens: Math.min(WARMUP_TOKENS, tokens) });
    const loadMs = elapsedMs(t0, now());
    await concurrentStreams(server.baseURL, { ...req, tokens: Math.min(WARMUP_TOKENS, tokens) }, B);
    const rssLoadedBytes = await rssBytes(server.pid);

    const raws: RawLoopResult[] = [];
    const tjs: GenerateResult[] = [];
    const c1: ConcurrencyResult[] = [];
    const cB: ConcurrencyResult[] = [];
    const rounds: RoundSample[] = [];
    for (let r = 1; r <= opts.rounds; r++) {
      const of = `round ${r}/${opts.rounds}`;
      log(`${m.key}: ${of}: raw ONNX Runtime loop, batch 1 and ${B}, ${tokens} tokens`);
      const raw = await child<RawLoopResult>("raw-loop.ts", rawJob);
      raws.push(raw);
      let t: GenerateResult | undefined;
      if (opts.transformers) {
        log(`${m.key}: ${of}: transformers.js generate()`);
        t = await child<GenerateResult>("transformers-generate.ts", tjsJob);
        tjs.push(t);
      }
      log(`${m.key}: ${of}: gpt3dev, 1 stream and ${B} concurrent streams`);
      const one = await concurrentStreams(server.baseURL, req, 1);
      const many = await concurrentStreams(server.baseURL, req, B, true);
      c1.push(one);
      cB.push(many);
      for (const x of [one, many]) if (x.tokens !== x.runs * x.streams * tokens) log(`${m.key}: ${x.tokens} tokens came back, ${x.runs * x.streams * tokens} asked for (EOS?)`);
      rounds.push({
        rawB1Tps: raw.runs[0]?.tps ?? Number.NaN,
        rawBatchTps: raw.runs[1]?.tps ?? Number.NaN,
        transformersTps: t?.tps,
        httpC1Tps: one.perStream.tps,
        httpBatchTps: many.aggregateTps,
        loadavg1m: loadavg()[0] as number,
      });
    }
    const sweep: ConcurrencyResult[] = [];
    for (const streams of new Set([...opts.streams, 1, B].sort((a, b) => a - b))) {
      if (streams === 1) sweep.push(best(c1, (x) => x.perStream.tps));
      else if (streams === B) sweep.push(best(cB, (x) => x.aggregateTps));
      else {
        log(`${m.key}: gpt3dev, ${streams} concurrent streams`);
        sweep.push(await concurrentStreams(server.baseURL, req, streams));
      }
    }
    const contexts =
      opts.contexts.length > 0 && m.key !== "tiny"
        ? await measureContexts(m, ids, opts.contexts, tokens, {
            raw: (job) => child<RawLoopResult>("raw-loop.ts", job),
            llama: (job) => child<LlamaResult>("llama-cpp.ts", job),
            baseURL: server.baseURL,
            rounds: opts.rounds,
            threads: opts.threads,
            log,
          })
        : undefined;
    const rssEndBytes = await rssBytes(server.pid);
    const raw = best(raws, (x) => x.runs[0]?.tps ?? 0);
    const single = raw.runs[0] as RawLoopRun;
    const batch = best(raws, (x) => x.runs[1]?.tps ?? 0).runs[1] as RawLoopRun;
    return {
      key: m.key,
      model: m.serverModel,
      file: `onnx/${m.file}`,
      fileBytes: statSync(join(m.dir, "onnx", m.file)).size,
      promptTokens: ids.length,
      tokens,
      eosAt: raw.eosAt,
      loadavg1m: [loadavgStart, loadavg()[0] as number],
      rounds,
      raw: { loadMs: raw.loadMs, single, batch, rssModelBytes: raw.rssModelBytes },
      transformers: tjs.length > 0 ? best(tjs, (x) => x.tps) : undefined,
      server: { loadMs, rssStartBytes, rssLoadedBytes, rssEndBytes, single: best(c1, (x) => x.perStream.tps), sweep },
      contexts,
    };
  });
}

/** RSS of a server of its own after `leakRequests` mixed requests on the tiny models. */
export async function measureLeak(ctx: MeasureContext): Promise<LeakResult> {
  const models = { text: "tiny-gpt2", chat: "tiny-llama", embeddings: "tiny-bert" };
  const args = ["--models-dir", join(REPO_ROOT, "models"), "--allow-models", Object.values(models).join(","), "--max-loaded-models", "3"];
  return withServer(ctx, args, async (server) => {
    const { leakRequests: requests, leakCheckpoint: checkpoint } = ctx.opts;
    ctx.log(`tiny: ${requests} mixed requests, RSS after ${checkpoint} and after all`);
    return leakRun({ baseURL: server.baseURL, pid: server.pid, models, requests, checkpoint, concurrency: 4 });
  });
}

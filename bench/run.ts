// `bun run bench`: the raw ONNX Runtime loop, transformers.js generate() and gpt3dev over HTTP on the same model
// file with the same thread settings, one after the other (never two at once), as Markdown tables on stdout and as
// data in bench/results.json. Progress goes to stderr. See bench/README.md.
import { writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { ArgsError, parseArgs, tokensFor, USAGE, type BenchOptions } from "./args.ts";
import { constrainedTable, measureConstrained } from "./constrained.ts";
import { lastPositionTable, measureLastPositionLogits } from "./last-position-logits.ts";
import { embeddingsNextToStreamsTable, measureEmbeddingsNextToStreams } from "./embeddings-next-to-streams.ts";
import { measureLeak, measureModel, type MeasureContext } from "./measure.ts";
import { BENCH_MEMORY_FILES, BENCH_MEMORY_SWEEP, memoryTable } from "./memory-table.ts";
import { BENCH_MODELS_DIR, benchModel, ensureModels } from "./models.ts";
import { flatMetrics, SCHEMA, targetChecks, type BenchReport, type ModelReport } from "./report.ts";
import { serverTarget } from "./server.ts";
import { elapsedMs, now } from "./stats.ts";
import { renderReport } from "./table.ts";
import { ortVersion } from "../src/runtime/onnx.ts";
import { transformersVersion } from "../src/runtime/transformers.ts";

const log = (line: string) => console.error(`[bench] ${line}`);

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
  if (opts.serverArgs.length > 0) target.label += ` with ${opts.serverArgs.join(" ")}`;
  log(`server: ${target.label}; ${opts.threads} threads; models ${opts.models.join(", ")} (bench models in ${BENCH_MODELS_DIR})`);
  const ctx: MeasureContext = { target, opts, log };
  const models: ModelReport[] = [];
  for (const key of opts.models) {
    const report = await measureModel(ctx, benchModel(key));
    if (key === "tiny") report.leak = await measureLeak(ctx);
    models.push(report);
  }
  const constrained = await measureConstrained(target, opts.quick ? 1 : 2, log);
  const lastPositionLogits = await measureLastPositionLogits(target, log);
  const memory = opts.memory
    ? await memoryTable({
        keys: BENCH_MEMORY_FILES,
        target,
        extra: opts.serverArgs,
        sweep: BENCH_MEMORY_SWEEP,
        replicas: "gpt2-fp32",
        threads: opts.threads,
        log,
      })
    : undefined;
  // On the largest model measured (its steps take long enough for a stall to show), with the auxiliary worker's
  // default threads and with one per core.
  const streamModel = opts.models.at(-1)!;
  const embeddingsNextToStreams = await measureEmbeddingsNextToStreams(
    target,
    {
      model: streamModel,
      tokens: tokensFor(opts, streamModel, benchModel(streamModel).contextLength, 16),
      threads: opts.threads,
      rounds: opts.quick ? 1 : 2,
      flagSets: [opts.serverArgs, [...opts.serverArgs, "--auxiliary-threads", "0"]],
    },
    log,
  );
  const report: BenchReport = {
    schema: SCHEMA,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    machine: { cores: navigator.hardwareConcurrency, cpu: cpus()[0]?.model.trim() ?? "?", memoryBytes: totalmem(), loadavgStart, loadavgEnd: loadavg() },
    versions: { bun: Bun.version, onnxruntime: ortVersion, transformers: transformersVersion },
    server: target.label,
    threads: opts.threads,
    rounds: opts.rounds,
    quick: opts.quick,
    durationS: elapsedMs(t0, now()) / 1000,
    models,
    targets: targetChecks(models),
    metrics: flatMetrics(models),
    constrained,
    lastPositionLogits,
    ...(memory ? { memory: memory.data } : {}),
    embeddingsNextToStreams,
  };
  const out = resolve(opts.out);
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(renderReport(report));
  console.log(`\n## Constrained decoding: the same chat request with and without a JSON schema\n\n${constrainedTable(constrained)}`);
  console.log(`\n## Peak RSS of a mixed prefill: last-position logits vs every position\n\n${lastPositionTable(lastPositionLogits)}`);
  if (memory) console.log(`\n## Memory: what a loaded model costs beside its file, and after sustained traffic\n\n${memory.markdown}`);
  console.log(`\n## Embeddings next to streams: stream inter-token latency alone and with 256-input embeddings requests\n\n${embeddingsNextToStreamsTable(embeddingsNextToStreams)}`);
  log(`results written to ${out}`);
}

await main();

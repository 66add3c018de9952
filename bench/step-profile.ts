// Where a decode step's time goes inside the server's own loop, in this one process (no worker, no HTTP): the
// scheduler drives the server's Decoder over the bench model while timers wrapped around its parts record, per step,
// session.run, the rest of Decoder.decode (feeds, mask, outputs), and the scheduler's own share (sampling,
// detokenizing, stop strings, events, the yield between steps), as wall time and as this thread's CPU time (which a
// loaded machine disturbs much less). A raw greedy loop (raw-loop.ts) on the same session
// takes turns with it, round after round, so a shared machine disturbs both alike. Only timings are recorded: no
// prompt or output text.
//
//   bun bench/step-profile.ts [models=bench-fp32,bench-int8] [contexts=32,896] [streams=1,8]   (TOKENS=64 ROUNDS=3;
//   RAW=0 leaves the raw loop out: at 896 positions and 8 rows its copied outputs take seconds a step)
import { join } from "node:path";
import { DecodeBatch } from "../src/engine/decode-batch.ts";
import { Decoder, type KvBlock } from "../src/engine/decoder.ts";
import { DEFAULT_SCHEDULER_OPTIONS } from "../src/engine/generation-job.ts";
import { IncrementalDetokenizer } from "../src/engine/detokenizer.ts";
import { planCompletion } from "../src/engine/completions.ts";
import { Sampler } from "../src/engine/sampler.ts";
import { Sequence } from "../src/engine/sequence.ts";
import { TextModel } from "../src/engine/text-model.ts";
import type { ModelSpec } from "../src/engine/registry.ts";
import { ort } from "../src/runtime/onnx.ts";
import { DirectSession } from "../src/runtime/direct-session.ts";
import type { Session } from "../src/runtime/session.ts";
import type { ModelKey } from "./args.ts";
import { contextIds } from "./contexts.ts";
import { benchModel, ensureModels, promptIds } from "./models.ts";
import { greedyLoop } from "./raw-loop.ts";
import { serverSessionOptions } from "./session-options.ts";
import { elapsedMs, now } from "./stats.ts";
import { dlopen, FFIType, ptr } from "bun:ffi";
import { markdownTable, ms, ratio } from "./table.ts";

/** This thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID): what JS work costs, whatever the machine's load. */
const libc = dlopen("libc.so.6", { clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
const timespec = new BigInt64Array(2);
const timespecPtr = ptr(timespec);
function threadCpuNs(): number {
  libc.symbols.clock_gettime(3, timespecPtr);
  return Number(timespec[0]) * 1e9 + Number(timespec[1]);
}

interface Mark {
  wall: number;
  cpu: number;
}

const mark = (): Mark => ({ wall: now(), cpu: threadCpuNs() });

/** Accumulated wall and thread-CPU nanoseconds and calls per named part, while on. */
class Timers {
  readonly ns = new Map<string, number>();
  on = false;
  add(name: string, start: Mark): void {
    if (!this.on) return;
    const end = mark();
    const put = (key: string, value: number) => this.ns.set(key, (this.ns.get(key) ?? 0) + value);
    put(name, end.wall - start.wall);
    put(`${name}.cpu`, end.cpu - start.cpu);
    put(`${name}.calls`, 1);
  }
  reset(): void {
    this.ns.clear();
  }
}

const timers = new Timers();
const lastParts: object[] = [];

/** Wraps `target[name]` (a method) so that its time, awaited when it returns a promise, adds to `label`. */
function time<T extends object>(target: T, name: keyof T & string, label: string): void {
  const original = target[name] as unknown as (...args: unknown[]) => unknown;
  (target as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
    const start = mark();
    const out = original.apply(this, args);
    if (out instanceof Promise) return out.finally(() => timers.add(label, start));
    timers.add(label, start);
    return out;
  };
}

time(Sequence.prototype, "advance", "advance");
if (process.env.DETAIL) {
  time(Decoder.prototype as never, "run" as never, "decoder.run");
  time(Decoder.prototype as never, "runInPlace" as never, "decoder.runInPlace");
  time(Decoder.prototype as never, "lastLogits" as never, "decoder.lastLogits");
}
time(Sampler.prototype, "sample", "sample");
time(IncrementalDetokenizer.prototype, "push", "detokenize");

interface Row {
  model: string;
  context: number;
  streams: number;
  rawStepMs: number;
  /** The same raw loop on the session the server opened (its load-time graph rewrites included). */
  rawServerGraphStepMs: number;
  serverStepMs: number;
  runMs: number;
  /** Longest re-pack of the batch's cache once every row had joined (a row leaving), wall ms; 0 when none. */
  packMs: number;
  /** Thread CPU ms per step of the JS work around session.run, by part. */
  cpu: { decodeRest: number; sample: number; detokenize: number; advanceRest: number; schedulerRest: number };
}

/**
 * Runs one greedy request per prompt through the scheduler and times the steps that decode every row at once: from
 * the first step after the last prompt joined (prefills done) to the first step after a row finished.
 */
async function serverRound(model: TextModel, prompts: number[][], tokens: number): Promise<{ stepMs: number; stepCpuMs: number; steps: number; packMs: number }> {
  const rows = prompts.length;
  const full: Mark[] = [];
  let end: Mark | undefined;
  const decoder = model.decoder;
  // The window ends before the batch drops the first finished row (re-packing the cache is timed on its own).
  const batch = (model.scheduler as unknown as { batch: DecodeBatch<KvBlock> }).batch;
  batch.update = function (this: DecodeBatch<KvBlock>, ...args: Parameters<DecodeBatch<KvBlock>["update"]>) {
    if (end === undefined && full.length > 0 && this.rows.some((c) => c.state !== "active")) {
      end = mark();
      timers.on = false;
    }
    return DecodeBatch.prototype.update.apply(this, args);
  };
  let packMs = 0;
  decoder.pack = function (this: Decoder, ...args: Parameters<Decoder["pack"]>) {
    const start = now();
    try {
      return Decoder.prototype.pack.apply(this, args);
    } finally {
      if (full.length > 0) packMs = Math.max(packMs, elapsedMs(start, now()));
    }
  };
  const decode = Decoder.prototype.decode;
  decoder.decode = function (this: Decoder, ...args: Parameters<Decoder["decode"]>) {
    const start = mark();
    if (end === undefined && args[1].length === rows) {
      if (full.length === 0) {
        timers.reset();
        timers.on = true;
      }
      full.push(start);
    } else if (end === undefined && full.length > 0) {
      end = start;
      timers.on = false;
    }
    return decode.apply(this, args).finally(() => timers.add("decode", start));
  };
  try {
    const done = prompts.map(
      (ids) =>
        new Promise<void>((resolve, reject) => {
          const plan = planCompletion(model, { model: model.spec.id, prompts: [ids], maxTokens: tokens, n: 1, temperature: 0, topP: 1, stop: [] });
          model.scheduler.submit({ ...plan.job, sink: { events() {}, done: () => resolve(), fail: reject } });
        }),
    );
    await Promise.all(done);
    end ??= mark();
    timers.on = false;
    const steps = full.length;
    if (steps < 2) throw new Error(`only ${steps} step(s) decoded all ${rows} rows at once: raise TOKENS`);
    const span = (pick: (m: Mark) => number) => (pick(end!) - pick(full[0]!)) / 1e6 / steps;
    return { stepMs: span((m) => m.wall), stepCpuMs: span((m) => m.cpu), steps, packMs };
  } finally {
    delete (decoder as Partial<Decoder>).decode;
    delete (decoder as Partial<Decoder>).pack;
    delete (batch as Partial<DecodeBatch<KvBlock>>).update;
  }
}

/** The first id kept inside the vocabulary (contextIds salts it with ids past a tiny model's vocabulary). */
function unique(ids: number[], vocab: number): number[] {
  ids[0] = ids[0]! % vocab;
  return ids;
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

async function rawRound(session: Session, model: TextModel, prompt: number[], batch: number, tokens: number): Promise<number> {
  const config = model.decoder.config;
  const { decode } = await greedyLoop(session, { layers: config.numLayers, kvHeads: config.kvHeads, headDim: config.headDim }, prompt, batch, tokens);
  return elapsedMs(decode.firstNs, decode.endNs) / (tokens - 1);
}

async function profile(key: ModelKey, contexts: number[], streams: number[], tokens: number, rounds: number): Promise<Row[]> {
  const m = benchModel(key);
  const spec: ModelSpec = { id: m.serverModel, dir: m.dir, kind: "text-generation", dtype: m.dtype, dtypeSource: "registry", ownedBy: "bench", created: 0 };
  const cacheDir = process.env.HOME ? join(process.env.HOME, ".cache", "gpt3dev") : undefined;
  const model = await TextModel.load(spec, { intraOpThreads: 2, cacheDir }, { ...DEFAULT_SCHEDULER_OPTIONS, prefixCacheBytes: 0 });
  const session = (model.decoder as unknown as { session: Session | DirectSession }).session;
  const timedRun = session.run.bind(session);
  session.run = (async (...args: unknown[]) => {
    const start = mark();
    try {
      return await (timedRun as (...a: unknown[]) => Promise<unknown>)(...args);
    } finally {
      timers.add("run", start);
    }
  }) as typeof session.run;
  // The raw loop opens the plain file, as in the contexts bench (the server's may carry load-time rewrites), with the
  // server's thread settings (spinning off), so the two differ only by what runs around session.run.
  const rawSession = await ort.InferenceSession.create(join(m.dir, "onnx", m.file), serverSessionOptions(2, false));
  // The raw loop on the server's own session too: the graph it loads may differ (src/runtime/graph-rewrite/).
  const keep = session.inputNames.find((name) => name === "num_logits_to_keep" || name === "logits_to_keep");
  const one = new ort.Tensor("int64", BigInt64Array.from([1n]), []);
  // (Only through onnxruntime-node: a session run through the C API writes into buffers the loop does not have.)
  const serverGraph =
    session instanceof DirectSession
      ? undefined
      : ({
          inputNames: session.inputNames,
          run: (feeds: Record<string, ort.Tensor>) => session.run(keep ? { ...feeds, [keep]: one } : feeds),
        } as unknown as Session);
  const base = await promptIds(m);
  const rows: Row[] = [];
  let salt = 1;
  try {
    for (const context of contexts) {
      for (const n of streams) {
        const raw: number[] = [];
        const rawServerGraph: number[] = [];
        const server: { stepMs: number; stepCpuMs: number; steps: number; packMs: number; parts: Map<string, number> }[] = [];
        for (let r = 0; r < rounds; r++) {
          if (process.env.RAW !== "0") raw.push(await rawRound(rawSession, model, unique(contextIds(base, context, salt++), model.vocabSize), n, tokens));
          if (serverGraph) rawServerGraph.push(await rawRound(serverGraph, model, unique(contextIds(base, context, salt++), model.vocabSize), n, tokens));
          const prompts = Array.from({ length: n }, () => unique(contextIds(base, context, salt++), model.vocabSize));
          const s = await serverRound(model, prompts, tokens);
          server.push({ ...s, parts: new Map(timers.ns) });
        }
        // Best round of each: the least disturbed sample on a shared machine.
        const best = server.reduce((a, b) => (b.stepMs < a.stepMs ? b : a));
        if (process.env.DETAIL) lastParts.push(Object.fromEntries([...best.parts].filter(([k]) => k.endsWith(".cpu")).map(([k, v]) => [k, v / 1e6 / best.parts.get("decode.calls")!])));
        // Per decode step timed (a step's rows are advanced after its run, so parts are counted per decode call).
        const part = (name: string) => (best.parts.get(name) ?? 0) / 1e6 / (best.parts.get("decode.calls") ?? Number.NaN);
        const cpu = (name: string) => part(`${name}.cpu`);
        rows.push({
          model: key,
          context,
          streams: n,
          rawStepMs: Math.min(...raw),
          rawServerGraphStepMs: Math.min(...rawServerGraph),
          serverStepMs: best.stepMs,
          runMs: part("run"),
          packMs: best.packMs,
          cpu: {
            decodeRest: cpu("decode") - cpu("run"),
            sample: cpu("sample"),
            detokenize: cpu("detokenize"),
            advanceRest: cpu("advance") - cpu("sample") - cpu("detokenize"),
            schedulerRest: best.stepCpuMs - cpu("decode") - cpu("advance"),
          },
        });
      }
    }
  } finally {
    await model.release();
    await rawSession.release();
  }
  return rows;
}

export function profileTable(rows: readonly Row[]): string {
  const header = [
    "model",
    "context",
    "streams",
    "raw loop step ms",
    "raw loop, server's graph",
    "server step ms",
    "server × raw",
    "session.run ms",
    "CPU ms: feeds and outputs (Decoder)",
    "sampling",
    "detokenizing",
    "rest of advance (stops, events)",
    "rest of the scheduler",
    "all JS work",
    "re-pack when a row leaves, ms",
  ];
  return markdownTable(
    header,
    rows.map((r) => [
      r.model,
      String(r.context),
      String(r.streams),
      ms(r.rawStepMs),
      ms(r.rawServerGraphStepMs),
      ms(r.serverStepMs),
      ratio(r.rawStepMs / r.serverStepMs),
      ms(r.runMs),
      ms(r.cpu.decodeRest),
      ms(r.cpu.sample),
      ms(r.cpu.detokenize),
      ms(r.cpu.advanceRest),
      ms(r.cpu.schedulerRest),
      ms(r.cpu.decodeRest + r.cpu.sample + r.cpu.detokenize + r.cpu.advanceRest + r.cpu.schedulerRest),
      r.packMs > 0 ? ms(r.packMs) : "–",
    ]),
    ["left", ...Array<"right">(14).fill("right")],
  );
}

if (import.meta.main) {
  const keys = (process.argv[2] ?? "bench-fp32,bench-int8").split(",") as ModelKey[];
  const contexts = (process.argv[3] ?? "32,896").split(",").map(Number);
  const streams = (process.argv[4] ?? "1,8").split(",").map(Number);
  const tokens = Number(process.env.TOKENS ?? 64);
  const rounds = Number(process.env.ROUNDS ?? 3);
  await ensureModels(keys, (line) => console.error(line));
  const rows: Row[] = [];
  for (const key of keys) rows.push(...(await profile(key, contexts, streams, tokens, rounds)));
  if (process.env.DETAIL) console.error(lastParts);
  console.log(profileTable(rows));
}

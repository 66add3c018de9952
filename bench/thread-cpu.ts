// CPU time per generated token, thread by thread, of a running server streaming greedy completions over HTTP: the
// HTTP thread (routes, SSE, JSON), the generation worker's thread (scheduler, sampling, and its share of each
// session run), ONNX Runtime's pool threads and the rest. CPU time, unlike wall time, changes little when other
// processes share the machine, so it shows what each thread's work costs even on a loaded box; the decode rate
// (wall) is printed beside it. Only counts are read: no prompt or output text.
//
//   bun bench/thread-cpu.ts [models=bench-int8] [contexts=32] [streams=1,8] [refs=worktree]   (TOKENS=128; THREADS=1
//   also prints every thread's name and CPU ms)
//
// `refs`: comma-separated commits to compare with the working tree ("worktree"), each served from its own export.
import type { ModelKey } from "./args.ts";
import { contextIds } from "./contexts.ts";
import { concurrentStreams, timedStream } from "./http-streams.ts";
import { benchModel, ensureModels, promptIds } from "./models.ts";
import { serverTarget, startBenchServer } from "./server.ts";
import { markdownTable, ms, num } from "./table.ts";

const TICK_MS = 1000 / 100; // USER_HZ

interface ThreadTimes {
  /** Thread id → [name, CPU ms]. */
  threads: Map<number, [string, number]>;
}

async function threadTimes(pid: number): Promise<ThreadTimes> {
  const threads = new Map<number, [string, number]>();
  const { readdir } = await import("node:fs/promises");
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    try {
      const stat = await Bun.file(`/proc/${pid}/task/${tid}/stat`).text();
      const close = stat.lastIndexOf(")");
      const name = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      threads.set(Number(tid), [name, (Number(fields[11]) + Number(fields[12])) * TICK_MS]);
    } catch {
      // the thread ended in between
    }
  }
  return { threads };
}

/** Which role a thread plays: the process's own thread is HTTP; the busiest other JS thread is the generation worker. */
function roles(pid: number, before: ThreadTimes, after: ThreadTimes): Map<string, number> {
  const spent = [...after.threads].map(([tid, [name, cpu]]) => ({ tid, name, ms: cpu - (before.threads.get(tid)?.[1] ?? 0) }));
  const out = new Map<string, number>();
  const add = (role: string, value: number) => out.set(role, (out.get(role) ?? 0) + value);
  const main = spent.find((t) => t.tid === pid);
  add("HTTP thread", main?.ms ?? 0);
  const others = spent.filter((t) => t.tid !== pid).sort((a, b) => b.ms - a.ms);
  // The worker's JS thread runs every session.run itself (ONNX Runtime's calling thread) and the pool's one thread
  // runs beside it: at 2 intra-op threads these are the two busiest. They are told apart by name where Bun names
  // its threads; otherwise reported together.
  const [first, second] = others;
  add("worker + ORT pool threads", (first?.ms ?? 0) + (second?.ms ?? 0));
  for (const t of others.slice(2)) add("other threads (GC, I/O)", t.ms);
  if (process.env.THREADS) console.error(spent.filter((t) => t.ms > 0).map((t) => `${t.tid === pid ? "main" : t.tid}:${t.name}=${t.ms}`).join(" "));
  return out;
}

interface Figures {
  label: string;
  model: string;
  context: number;
  streams: number;
  tokens: number;
  aggregateTps: number;
  perToken: Map<string, number>;
}

async function measure(label: string, ref: string | undefined, keys: ModelKey[], contexts: number[], streams: number[], tokens: number): Promise<Figures[]> {
  const results: Figures[] = [];
  for (const key of keys) {
    const m = benchModel(key);
    const base = await promptIds(m);
    const target = await serverTarget({ binary: false, ref });
    const server = await startBenchServer(target, [...m.serverArgs, "--max-loaded-models", "1", "--threads", "2"]);
    let salt = Math.floor(Math.random() * 10_000);
    try {
      await timedStream(server.baseURL, { model: m.serverModel, promptIds: base, tokens: 4 });
      for (const context of contexts) {
        for (const n of streams) {
          const before = await threadTimes(server.pid);
          const many = await concurrentStreams(server.baseURL, { model: m.serverModel, promptIds: contextIds(base, context, salt++), tokens }, n);
          const after = await threadTimes(server.pid);
          const perToken = new Map([...roles(server.pid, before, after)].map(([role, cpu]) => [role, cpu / many.tokens]));
          results.push({ label, model: key, context, streams: n, tokens: many.tokens, aggregateTps: many.aggregateTps, perToken });
        }
      }
    } finally {
      await server.stop();
    }
  }
  return results;
}

if (import.meta.main) {
  const keys = (process.argv[2] ?? "bench-int8").split(",") as ModelKey[];
  const contexts = (process.argv[3] ?? "32").split(",").map(Number);
  const streams = (process.argv[4] ?? "1,8").split(",").map(Number);
  const refs = (process.argv[5] ?? "worktree").split(",");
  const tokens = Number(process.env.TOKENS ?? 128);
  await ensureModels(keys, (line) => console.error(line));
  const rows: Figures[] = [];
  for (const ref of refs) rows.push(...(await measure(ref, ref === "worktree" ? undefined : ref, keys, contexts, streams, tokens)));
  const roleNames = [...new Set(rows.flatMap((r) => [...r.perToken.keys()]))];
  const header = ["code", "model", "context", "streams", "tokens", "aggregate tok/s (prefill included)", ...roleNames.map((r) => `${r} CPU ms / token`)];
  console.log(
    markdownTable(
      header,
      rows.map((r) => [r.label, r.model, String(r.context), String(r.streams), String(r.tokens), num(r.aggregateTps), ...roleNames.map((role) => ms(r.perToken.get(role)))]),
      ["left", "left", ...Array<"right">(header.length - 2).fill("right")],
    ),
  );
}

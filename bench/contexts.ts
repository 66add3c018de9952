// Long prompts and chat turns (`--contexts 32,896`): per prompt length, the raw loop's and one gpt3dev stream's time
// to first token and decode rate, and a chat's next turn: the same prompt again plus 16 tokens, which the server's
// prefix cache serves from the cache (its usage says how many tokens), against a fresh prompt of that length; and
// llama.cpp on the same weights (GGUF, f32 for fp32, Q8_0 for int8) at 1 and 8 streams against gpt3dev's.
import { join } from "node:path";
import { ggufFor } from "../scripts/gguf-from-onnx.ts";
import type { LlamaJob, LlamaResult, LlamaSettings } from "./llama-cpp.ts";
import type { BenchModel } from "./models.ts";
import type { RawLoopJob, RawLoopResult, RawLoopRun } from "./raw-loop.ts";
import { asDecode, concurrentStreams, timedStream } from "./http-streams.ts";
import { summarize } from "./stats.ts";
import { markdownTable, ms, num, ratio } from "./table.ts";

/** Tokens a next turn adds to the history it repeats. */
export const NEXT_TURN_TOKENS = 16;
/** Streams of the many-stream comparison with llama.cpp. */
export const MANY_STREAMS = 8;

export interface ContextResult {
  promptTokens: number;
  /** New tokens of the decode measurement. */
  tokens: number;
  raw: RawLoopRun;
  server: {
    ttftMs: number;
    decodeTps: number;
    /** Time to first token of the prompt plus 16 tokens, right after the prompt was served. */
    nextTurnTtftMs: number;
    nextTurnCachedTokens: number;
    /** Time to first token of a prompt as long as the next turn that shares nothing with earlier ones. */
    freshTtftMs: number;
    /** MANY_STREAMS streams of fresh, distinct prompts of this length at once: all tokens / (last finish − first request). */
    manyAggregateTps: number;
  };
  /** llama.cpp on the same weights, or why it did not run. */
  llama: LlamaResult | { error: string };
}

/** `length` prompt ids cycling through `base`, made unique by `salt` from the first token on (no cached prefix). */
export function contextIds(base: readonly number[], length: number, salt: number): number[] {
  return Array.from({ length }, (_, i) => (i === 0 ? 1000 + salt : base[i % base.length]!));
}

/** The tokens a chat's next turn adds to the history it repeats (the same for gpt3dev and llama.cpp). */
function nextTurnTokens(base: readonly number[]): number[] {
  return [...contextIds(base, NEXT_TURN_TOKENS, 7).slice(1), 3];
}

export interface ContextRunners {
  raw(job: RawLoopJob): Promise<RawLoopResult>;
  llama(job: LlamaJob): Promise<LlamaResult>;
  baseURL: string;
  rounds: number;
  threads: number;
  log(line: string): void;
}

export async function measureContexts(m: BenchModel, base: number[], contexts: number[], tokens: number, run: ContextRunners): Promise<ContextResult[]> {
  const results: ContextResult[] = [];
  let salt = Math.floor(Math.random() * 10_000);
  let llamaSettings: LlamaSettings | undefined;
  for (const length of contexts) {
    const n = Math.min(tokens, m.contextLength - length - NEXT_TURN_TOKENS - 1);
    if (n < 2) {
      run.log(`${m.key}: context ${length} leaves no room to decode in ${m.contextLength} positions, skipped`);
      continue;
    }
    const raws: RawLoopRun[] = [];
    const rounds: ContextResult["server"][] = [];
    for (let r = 1; r <= run.rounds; r++) {
      run.log(`${m.key}: context ${length}: round ${r}/${run.rounds}: raw loop, gpt3dev first turn, next turn, fresh prompt`);
      const ids = contextIds(base, length, salt++);
      const raw = await run.raw({ modelDir: m.dir, onnxFile: m.file, threads: run.threads, promptIds: ids, tokens: n, batches: [1], warmupTokens: 4 });
      raws.push(raw.runs[0]!);
      const req = { model: m.serverModel, tokens: n };
      const first = await timedStream(run.baseURL, { ...req, promptIds: ids });
      const next = await timedStream(run.baseURL, { ...req, tokens: 1, promptIds: [...ids, ...nextTurnTokens(base)] });
      const fresh = await timedStream(run.baseURL, { ...req, tokens: 1, promptIds: contextIds(base, length + NEXT_TURN_TOKENS, salt++) });
      // Fresh prompts (nothing cached), as llama.cpp's streams get.
      const many = await concurrentStreams(run.baseURL, { ...req, promptIds: contextIds(base, length, salt++) }, MANY_STREAMS, false, true);
      const firstFigures = summarize([asDecode(first)]);
      rounds.push({
        ttftMs: firstFigures.ttftMs,
        decodeTps: firstFigures.decodeTps ?? Number.NaN,
        nextTurnTtftMs: summarize([asDecode(next)]).ttftMs,
        nextTurnCachedTokens: next.cachedTokens,
        freshTtftMs: summarize([asDecode(fresh)]).ttftMs,
        manyAggregateTps: many.aggregateTps,
      });
    }
    run.log(`${m.key}: context ${length}: llama.cpp, 1 and ${MANY_STREAMS} streams`);
    let llama: ContextResult["llama"];
    try {
      const gguf = ggufFor(m.dir, m.dtype === "q8" ? "q8_0" : "f32");
      const nextTurnIds = nextTurnTokens(base);
      llama = await run.llama({ gguf, promptIds: contextIds(base, length, salt++), tokens: n, streams: [1, MANY_STREAMS], threads: run.threads, settings: llamaSettings, nextTurnIds });
      llamaSettings = llama.settings;
    } catch (error) {
      llama = { error: String(error).split("\n")[0]! };
      run.log(`${m.key}: llama.cpp did not run: ${llama.error}`);
    }
    // Best round per figure: on a shared machine the least disturbed sample is the closest to what the code can do.
    const raw = raws.reduce((a, b) => ((b.decodeTps ?? 0) > (a.decodeTps ?? 0) ? b : a));
    const min = (pick: (s: ContextResult["server"]) => number) => Math.min(...rounds.map(pick));
    results.push({
      promptTokens: length,
      tokens: n,
      raw,
      server: {
        ttftMs: min((s) => s.ttftMs),
        decodeTps: Math.max(...rounds.map((s) => s.decodeTps)),
        nextTurnTtftMs: min((s) => s.nextTurnTtftMs),
        nextTurnCachedTokens: rounds[0]!.nextTurnCachedTokens,
        freshTtftMs: min((s) => s.freshTtftMs),
        manyAggregateTps: Math.max(...rounds.map((s) => s.manyAggregateTps)),
      },
      llama,
    });
  }
  return results;
}

export function contextsTable(results: readonly ContextResult[]): string {
  const rows = results.map((c) => [
    String(c.promptTokens),
    `${num(c.raw.decodeTps)} / ${num(c.server.decodeTps)}`,
    ratio(c.server.decodeTps / (c.raw.decodeTps ?? Number.NaN)),
    `${ms(c.raw.ttftMs)} / ${ms(c.server.ttftMs)}`,
    `${ms(c.server.nextTurnTtftMs)} (${c.server.nextTurnCachedTokens} cached)`,
    ms(c.server.freshTtftMs),
    ratio(c.server.nextTurnTtftMs / c.server.ttftMs),
  ]);
  const header = [
    "prompt tokens",
    "decode tok/s raw / gpt3dev",
    "× raw",
    "TTFT ms raw / gpt3dev",
    `next turn (+${NEXT_TURN_TOKENS}) TTFT ms`,
    `fresh prompt (+${NEXT_TURN_TOKENS}) TTFT ms`,
    "next turn × first turn",
  ];
  return markdownTable(header, rows, ["right", "right", "right", "right", "right", "right", "right"]);
}

/** gpt3dev against llama.cpp on the same weights, per prompt length: one stream's decode rate and 8 streams' aggregate. */
export function llamaTable(results: readonly ContextResult[]): string {
  const rows = results.map((c) => {
    if ("error" in c.llama) return [String(c.promptTokens), `– (${c.llama.error})`, "", "", "", "", "", ""];
    const [one, many] = [c.llama.runs.find((r) => r.streams === 1), c.llama.runs.find((r) => r.streams === MANY_STREAMS)];
    const { threads, flashAttention } = c.llama.settings;
    return [
      String(c.promptTokens),
      `${num(c.server.decodeTps)} / ${num(one?.decodeTps ?? Number.NaN)}`,
      ratio(c.server.decodeTps / (one?.decodeTps ?? Number.NaN)),
      `${num(c.server.manyAggregateTps)} / ${num(many?.aggregateTps ?? Number.NaN)}`,
      ratio(c.server.manyAggregateTps / (many?.aggregateTps ?? Number.NaN)),
      `${ms(c.server.ttftMs)} / ${ms(one?.ttftMs ?? Number.NaN)}`,
      `${ms(c.server.nextTurnTtftMs)} / ${ms(one?.nextTurnTtftMs ?? Number.NaN)}`,
      `${threads} thread${threads > 1 ? "s" : ""}, flash attention ${flashAttention ? "on" : "off"}`,
    ];
  });
  const header = [
    "prompt tokens",
    "1 stream decode tok/s gpt3dev / llama.cpp",
    "× llama.cpp",
    `${MANY_STREAMS} streams aggregate tok/s gpt3dev / llama.cpp`,
    "× llama.cpp",
    "TTFT ms gpt3dev / llama.cpp",
    `next turn (+${NEXT_TURN_TOKENS}) TTFT ms gpt3dev / llama.cpp, each from its own cache`,
    "llama.cpp settings",
  ];
  return markdownTable(header, rows, ["right", "right", "right", "right", "right", "right", "right", "left"]);
}

export function contextMetrics(results: readonly ContextResult[], put: (name: string, value: number) => void): void {
  for (const c of results) {
    const at = `ctx${c.promptTokens}`;
    put(`${at}.raw.decode_tps`, c.raw.decodeTps ?? Number.NaN);
    put(`${at}.raw.ttft_ms`, c.raw.ttftMs);
    put(`${at}.http.decode_tps`, c.server.decodeTps);
    put(`${at}.http.ttft_ms`, c.server.ttftMs);
    put(`${at}.http.next_turn_ttft_ms`, c.server.nextTurnTtftMs);
    put(`${at}.http.next_turn_cached_tokens`, c.server.nextTurnCachedTokens);
    put(`${at}.http.fresh_ttft_ms`, c.server.freshTtftMs);
    put(`${at}.http.c${MANY_STREAMS}.aggregate_tps`, c.server.manyAggregateTps);
    if ("error" in c.llama) continue;
    for (const r of c.llama.runs) {
      put(`${at}.llama.c${r.streams}.decode_tps`, r.decodeTps);
      put(`${at}.llama.c${r.streams}.aggregate_tps`, r.aggregateTps);
      put(`${at}.llama.c${r.streams}.ttft_ms`, r.ttftMs);
    }
  }
}

// Alone: `[TOKENS=128] [ROUNDS=1] [LLAMA=0] [REFS=<commit>,worktree] bun bench/contexts.ts [models] [contexts]` starts a server per model and prints the two tables (the same
// measurement as `bun run bench --contexts`, without the rest of the bench).
if (import.meta.main) {
  const { benchModel, ensureModels, promptIds } = await import("./models.ts");
  const { serverTarget, startBenchServer, REPO_ROOT } = await import("./server.ts");
  const keys = (process.argv[2] ?? "bench-fp32,bench-int8").split(",");
  const lengths = (process.argv[3] ?? "32,896").split(",").map(Number);
  const rounds = Number(process.env.ROUNDS ?? 1);
  const child = async <T>(script: string, job: unknown): Promise<T> => {
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, script), JSON.stringify(job)], { cwd: REPO_ROOT, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new Error(`${script} failed (exit ${code}): ${err.slice(-500)}`);
    return JSON.parse(out.trim().split("\n").at(-1)!) as T;
  };
  await ensureModels(keys as Parameters<typeof ensureModels>[0], (line) => console.error(line));
  // REFS=<commit>,worktree: the same measurement on each commit's server (exported from git), one after the other.
  for (const ref of (process.env.REFS ?? "worktree").split(",")) {
    for (const key of keys) {
      const m = benchModel(key as Parameters<typeof benchModel>[0]);
      const base = await promptIds(m);
      const server = await startBenchServer(await serverTarget({ binary: false, ref: ref === "worktree" ? undefined : ref }), [...m.serverArgs, "--max-loaded-models", "1", "--threads", "2"]);
      try {
        await timedStream(server.baseURL, { model: m.serverModel, promptIds: base, tokens: 2 });
        const log = (line: string) => console.error(line);
        const results = await measureContexts(m, base, lengths, Number(process.env.TOKENS ?? 128), {
          raw: (job) => child<RawLoopResult>("raw-loop.ts", job),
          // LLAMA=0 leaves llama.cpp out (a quicker look at gpt3dev against the raw loop).
          llama: (job) => (process.env.LLAMA === "0" ? Promise.reject(new Error("left out (LLAMA=0)")) : child<LlamaResult>("llama-cpp.ts", job)),
          baseURL: server.baseURL,
          rounds,
          threads: 2,
          log,
        });
        console.log(`### ${key} (${ref})\n\n${contextsTable(results)}\n\n${llamaTable(results)}\n`);
      } finally {
        await server.stop();
      }
    }
  }
}

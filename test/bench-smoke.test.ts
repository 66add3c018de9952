// The bench's argument parsing, target checks and table layout, on made-up figures (nothing here is timed).
import { describe, expect, test } from "bun:test";
import { ArgsError, parseArgs, tokensFor } from "../bench/args.ts";
import { contextIds, contextMetrics, contextsTable, llamaTable, type ContextResult } from "../bench/contexts.ts";
import type { ConcurrencyResult } from "../bench/http-streams.ts";
import { mixedRequest } from "../bench/memory.ts";
import type { RawLoopRun } from "../bench/raw-loop.ts";
import { flatMetrics, targetChecks, type ModelReport } from "../bench/report.ts";
import { percentile, summarize, type PathFigures } from "../bench/stats.ts";
import { markdownTable, mb, ms, num, ratio, roundsLine, targetsTable } from "../bench/table.ts";

describe("bench arguments", () => {
  test("defaults: all three models, every concurrency level, 1000 mixed requests", () => {
    expect(parseArgs([], 2, "/r.json")).toEqual({
      models: ["tiny", "bench-fp32", "bench-int8"],
      threads: 2,
      streams: [1, 2, 4, 8, 16],
      contexts: [],
      rawBatch: 8,
      rounds: 3,
      leakRequests: 1000,
      leakCheckpoint: 100,
      quick: false,
      binary: false,
      transformers: true,
      serverArgs: [],
      memory: true,
      out: "/r.json",
      help: false,
    });
  });

  test("--contexts lists prompt lengths, sorted; contexts cycle the prompt and differ from the first token on", () => {
    expect(parseArgs(["--contexts", "896,32"], 2, "/r.json").contexts).toEqual([32, 896]);
    expect(() => parseArgs(["--contexts", "0"], 2, "/r.json")).toThrow(ArgsError);
    const a = contextIds([7, 8, 9], 5, 1);
    expect(a).toEqual([1001, 8, 9, 7, 8]);
    expect(contextIds([7, 8, 9], 5, 2)[0]).not.toBe(a[0]);
  });

  test("--quick keeps to the tiny model and small counts", () => {
    const opts = parseArgs(["--quick"], 4, "/r.json");
    expect(opts.models).toEqual(["tiny"]);
    expect(opts.rounds).toBe(1);
    expect(opts.leakRequests).toBe(300);
    expect(opts.leakCheckpoint).toBe(100);
    expect(opts.memory).toBe(false);
    expect(parseArgs(["--no-memory"], 4, "/r.json").memory).toBe(false);
    expect(tokensFor(opts, "tiny", 128, 30)).toBe(32);
  });

  test("values after the flag or after '=', lists sorted and deduplicated, models in their fixed order", () => {
    const opts = parseArgs(["--models=bench-int8,tiny", "--tokens", "50", "--streams", "8,1,8", "--threads=1", "--server-ref", "HEAD~1", "--no-transformers", "--server-args", " --max-batch 16 "], 2, "/r.json");
    expect(opts.serverArgs).toEqual(["--max-batch", "16"]);
    expect(opts.models).toEqual(["tiny", "bench-int8"]);
    expect(opts.tokens).toBe(50);
    expect(opts.streams).toEqual([1, 8]);
    expect(opts.threads).toBe(1);
    expect(opts.serverRef).toBe("HEAD~1");
    expect(opts.transformers).toBe(false);
    expect(parseArgs(["--leak-requests", "150"], 2, "/r.json").leakCheckpoint).toBe(75);
  });

  test("tokens default per model and never overflow the context", () => {
    const opts = parseArgs([], 2, "/r.json");
    expect(tokensFor(opts, "tiny", 128, 30)).toBe(96);
    expect(tokensFor(opts, "bench-fp32", 1024, 14)).toBe(128);
    expect(tokensFor(parseArgs(["--tokens", "500"], 2, "/r.json"), "tiny", 128, 30)).toBe(98);
  });

  test("bad arguments are refused by name", () => {
    expect(() => parseArgs(["--models", "big"], 2, "/r")).toThrow(new ArgsError("--models: unknown model 'big' (known: tiny, bench-fp32, bench-int8)"));
    expect(() => parseArgs(["--tokens", "0"], 2, "/r")).toThrow(new ArgsError("--tokens: expected a positive integer, got '0'"));
    expect(() => parseArgs(["--tokens"], 2, "/r")).toThrow(new ArgsError("--tokens needs a value"));
    expect(() => parseArgs(["--fast"], 2, "/r")).toThrow(new ArgsError("unknown argument '--fast'"));
    expect(() => parseArgs(["--binary", "--server-ref", "HEAD"], 2, "/r")).toThrow(ArgsError);
  });

  test("a server target is the binary or a commit's source, never a commit's name on the binary", async () => {
    const { serverTarget } = await import("../bench/server.ts");
    await expect(serverTarget({ binary: true, ref: "HEAD" })).rejects.toThrow("--binary measures dist/gpt3dev, --server-ref a commit's source: give one of them");
  });
});

describe("bench formatting", () => {
  test("Markdown table with padded columns and right-aligned figures", () => {
    expect(markdownTable(["a", "tok/s"], [["raw", "12.5"], ["gpt3dev", "9.0"]], ["left", "right"])).toBe(
      ["| a       | tok/s |", "|---------|------:|", "| raw     |  12.5 |", "| gpt3dev |   9.0 |"].join("\n"),
    );
  });

  test("the long-prompt table gives the ratios to the raw loop and to the first turn, and flat metrics per length", () => {
    const c: ContextResult = {
      promptTokens: 896,
      tokens: 111,
      raw: rawRun(1, 18),
      server: { ttftMs: 2000, decodeTps: 17.1, nextTurnTtftMs: 250, nextTurnCachedTokens: 896, freshTtftMs: 2100, manyAggregateTps: 60 },
      llama: {
        settings: { threads: 1, flashAttention: true },
        runs: [
          { streams: 1, ttftMs: 1500, decodeTps: 19, aggregateTps: 15, nextTurnTtftMs: 45 },
          { streams: 8, ttftMs: 9000, decodeTps: 6, aggregateTps: 40 },
        ],
      },
    };
    c.raw.decodeTps = 18;
    c.raw.ttftMs = 1900;
    const table = contextsTable([c]).split("\n");
    expect(table[0]).toContain("next turn × first turn");
    expect(table[2]!.split("|").map((x) => x.trim())).toEqual(["", "896", "18.0 / 17.1", "0.95×", "1900 / 2000", "250.0 (896 cached)", "2100", "0.13×", ""]);
    const versus = llamaTable([c]).split("\n");
    expect(versus[2]!.split("|").map((x) => x.trim())).toEqual(["", "896", "17.1 / 19.0", "0.90×", "60.0 / 40.0", "1.50×", "2000 / 1500", "250.0 / 45.0", "1 thread, flash attention on", ""]);
    expect(llamaTable([{ ...c, llama: { error: "no binary" } }])).toContain("– (no binary)");
    const metrics: Record<string, number> = {};
    contextMetrics([c], (name, value) => (metrics[name] = value));
    expect(metrics["ctx896.llama.c8.aggregate_tps"]).toBe(40);
    expect(metrics["ctx896.http.c8.aggregate_tps"]).toBe(60);
    expect(metrics["ctx896.http.next_turn_ttft_ms"]).toBe(250);
    expect(metrics["ctx896.http.next_turn_cached_tokens"]).toBe(896);
    expect(metrics["ctx896.raw.decode_tps"]).toBe(18);
  });

  test("numbers, milliseconds, ratios and megabytes", () => {
    expect([num(44.567), num(1234.5), num(Number.NaN), num(undefined), num(0.5, 3)]).toEqual(["44.6", "1235", "–", "–", "0.500"]);
    expect([ms(0.234), ms(22.25), ms(1500.4)]).toEqual(["0.23", "22.3", "1500"]);
    expect([ratio(0.954), ratio(Number.POSITIVE_INFINITY)]).toEqual(["0.95×", "–"]);
    expect(mb(3 * 2 ** 20)).toBe("3.0 MiB");
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 99)).toBe(5);
    expect(percentile([], 50)).toBeNaN();
  });
});

function figures(tps: number): PathFigures {
  return { runs: 1, tokens: 128, tps, decodeTps: tps * 1.01, ttftMs: 30, stepP50Ms: 20, stepP95Ms: 25 };
}

function rawRun(batch: number, tps: number): RawLoopRun {
  return { batch, spinning: false, ...figures(tps) };
}

function sweep(streams: number, aggregateTps: number, tps = 0): ConcurrencyResult {
  const perStream = figures(tps);
  return { streams, runs: 1, tokens: streams * 128, wallMs: 1000, aggregateTps, ttftP50Ms: 40, ttftP95Ms: 50, itlP50Ms: 21, itlP95Ms: 30, perStream };
}

function model(key: ModelReport["key"], single: number, at8: number): ModelReport {
  const c1 = sweep(1, single, single);
  return {
    key,
    model: key === "tiny" ? "tiny-gpt2" : "gpt2-small-bench",
    file: "onnx/model.onnx",
    fileBytes: 1,
    promptTokens: 14,
    tokens: 128,
    eosAt: -1,
    loadavg1m: [0.5, 1.5],
    rounds: [{ rawB1Tps: 40, rawBatchTps: 160, transformersTps: 36, httpC1Tps: single, httpBatchTps: at8, loadavg1m: 1 }],
    raw: { loadMs: 1, single: rawRun(1, 40), batch: rawRun(8, 160) },
    transformers: { loadMs: 1, ...figures(36) },
    server: { loadMs: 1, rssStartBytes: 1, rssLoadedBytes: 2, rssEndBytes: 3, single: c1, sweep: [c1, sweep(8, at8)] },
    leak: key === "tiny" ? { requests: 1000, checkpoint: 100, rssCheckpointBytes: 100, rssEndBytes: 104, ratio: 1.04, rssSeriesBytes: [100, 104], statuses: { "200": 1000 } } : undefined,
  };
}

describe("bench figures", () => {
  test("end-to-end and decode rates over repeated runs; bursty delivery has no decode rate", () => {
    const ms = 1e6;
    const run = (start: number) => ({ rows: 2, tokens: 11, startNs: start, firstNs: start + 100 * ms, endNs: start + 600 * ms, gapsMs: [50, 50], deliveries: 11 });
    expect(summarize([run(0), run(1e9)])).toEqual({ runs: 2, tokens: 11, tps: 2 * 2 * 11 / 1.2, decodeTps: 2 * 2 * 10 / 1.0, ttftMs: 100, stepP50Ms: 50, stepP95Ms: 50 });
    expect(summarize([{ ...run(0), deliveries: 2 }]).decodeTps).toBeNaN();
  });
});

describe("bench targets", () => {
  test("each target is the issue's ratio with its threshold", () => {
    const checks = targetChecks([model("bench-fp32", 38, 136), model("tiny", 20, 60)]);
    expect(checks.map((c) => [c.model, c.name, Number(c.measured.toFixed(4)), c.pass])).toEqual([
      ["bench-fp32", "1 stream ≥ 0.95× raw loop", 0.95, true],
      ["bench-fp32", "1 stream ≥ 1.0× transformers.js", 1.0556, true],
      ["bench-fp32", "8 streams ≥ 0.85× raw batch-8 loop", 0.85, true],
      ["tiny", "1 stream ≥ 0.7× raw loop", 0.5, false],
      ["tiny", "RSS after 1000 requests ≤ 1.05× after 100", 1.04, true],
    ]);
    expect(targetsTable(checks.slice(3))).toBe(
      [
        "| model | target                                    | measured | ok   |",
        "|-------|-------------------------------------------|---------:|------|",
        "| tiny  | 1 stream ≥ 0.7× raw loop                  |    0.50× | FAIL |",
        "| tiny  | RSS after 1000 requests ≤ 1.05× after 100 |    1.040 | pass |",
      ].join("\n"),
    );
  });

  test("the rounds line gives the spread of every path and the load", () => {
    const m = model("bench-fp32", 38, 136);
    m.rounds.push({ ...m.rounds[0]!, rawB1Tps: 31.25, httpC1Tps: 30 });
    expect(roundsLine(m)).toBe(
      "best of 2 interleaved round(s); tok/s range over rounds: raw b1 31.3–40.0, raw b8 160.0–160.0, transformers.js 36.0–36.0, " +
        "gpt3dev 1 stream 30.0–38.0, 8 streams 136.0–136.0 · load average (1 min) 0.50 → 1.50",
    );
  });

  test("flat metric names are stable", () => {
    const metrics = flatMetrics([model("bench-int8", 38, 136)]);
    expect(metrics["bench-int8.raw.b1.tps"]).toBe(40);
    expect(metrics["bench-int8.raw.b8.tps"]).toBe(160);
    expect(metrics["bench-int8.transformers.tps"]).toBe(36);
    expect(metrics["bench-int8.http.c8.aggregate_tps"]).toBe(136);
    expect(metrics["bench-int8.http.c1.tps"]).toBe(38);
    expect(metrics["bench-int8.target.8_streams_ge_0.85x_raw_batch_8_loop"]).toBe(0.85);
  });

  test("the mixed requests cycle through ten kinds", () => {
    const models = { text: "t", chat: "c", embeddings: "e" };
    expect(Array.from({ length: 10 }, (_, i) => mixedRequest(i, models).path)).toEqual([
      "/v1/completions",
      "/v1/completions",
      "/v1/completions",
      "/v1/completions",
      "/v1/completions",
      "/v1/chat/completions",
      "/v1/chat/completions",
      "/v1/embeddings",
      "/v1/completions",
      "/v1/completions",
    ]);
    expect(mixedRequest(13, models)).toEqual(mixedRequest(13, models));
  });
});

describe("bench memory table", () => {
  test("ratios to the file, growth against the KV budget, and whether replicas share weight pages", async () => {
    const { renderMemoryTable } = await import("../bench/memory-table.ts");
    const sweep = { rounds: 4, streams: 8, tokens: 64 };
    const row = (file: "gpt2-fp32" | "llama-q4" | "llama-fp16" | "llama-fp16-kept", fileMiB: number, loadedMiB: number, sweepMiB: number, distinctMiB: number | null = null) => ({
      server: { file, fileMiB, startMiB: 60, loadedMiB, mixedPrefillMiB: sweepMiB, mixedPrefillPeakMiB: sweepMiB + 10, sweepMiB, distinctMiB, peakMiB: sweepMiB + 10, kvLimitMiB: 256, sweep, decodeTps: 61.25, decode8Tps: 200 },
      session: { loadedMiB: fileMiB * 1.1, anonMiB: fileMiB },
    });
    const processes = [0, 1].map(() => ({ rss: 700, peak: 800, anon: 600, pss: 650, shared: 80, modelMiB: 560, sharedSinceIdle: 2 }));
    const text = renderMemoryTable({
      runtimeMiB: 25,
      serverOwnMiB: 60,
      rows: [row("gpt2-fp32", 500, 620, 800), row("llama-q4", 50, 170, 500), row("llama-fp16", 146, 300, 400, 600)],
      replicas: { file: "gpt2-fp32", fileMiB: 500, processes, weightsShared: false },
    });
    const lines = text.split("\n");
    expect(lines.find((l) => l.startsWith("| gpt2-fp32"))).toContain("560 MiB (1.12×)");
    expect(lines.find((l) => l.startsWith("| gpt2-fp32"))).toContain("500 MiB (1.00×)");
    expect(lines.find((l) => l.startsWith("| gpt2-fp32"))).toContain("(+180)");
    expect(lines.find((l) => l.startsWith("| gpt2-fp32"))).toContain("256 MiB (yes)");
    expect(lines.find((l) => l.startsWith("| llama-q4"))).toContain("256 MiB (NO)");
    expect(lines.find((l) => l.startsWith("| llama-q4"))).toMatch(/\s61\.3 \/ 200\.0 \|$/);
    // The distinct tokens' prompts: RSS above the idle server, growth since the sweep, and the budget counts them.
    expect(lines.find((l) => l.startsWith("| llama-fp16"))).toContain("540 MiB (+200)");
    expect(lines.find((l) => l.startsWith("| llama-fp16"))).toContain("256 MiB (NO)");
    expect(lines.find((l) => l.startsWith("| gpt2-fp32"))).toMatch(/\(\+180\) \| +– \|/);
    expect(text).toContain("Weight pages are NOT shared");
    expect(text).toContain("Sweep: 4 rounds of 8 concurrent 64-token streams.");
    expect(text).not.toContain("fp16 weights kept fp16 against widened");
    const kept = { ...row("llama-fp16-kept", 146, 260, 400), server: { ...row("llama-fp16-kept", 146, 260, 400).server, decodeTps: 45, decode8Tps: 150 } };
    const fp16 = renderMemoryTable({ runtimeMiB: 25, serverOwnMiB: 60, rows: [row("llama-fp16", 146, 360, 500), kept] });
    expect(fp16).toContain("loaded 0.67× the memory, decode 0.73× the speed of one stream and 0.75× of eight.");
  });
});

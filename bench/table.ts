// Renders a BenchReport as Markdown tables (printed, and pasted into bench/README.md). The layout is part of the
// bench's interface: keep headers and row labels stable; bench/results.json carries the same figures as data.
import { contextsTable, llamaTable } from "./contexts.ts";
import type { BenchReport, ModelReport, TargetCheck } from "./report.ts";
import type { PathFigures } from "./stats.ts";

export type Align = "left" | "right";

/** A Markdown table whose columns are padded to a common width (readable as plain text too). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length), 3));
  const cell = (text: string, c: number) => (align[c] === "right" ? text.padStart(widths[c] as number) : text.padEnd(widths[c] as number));
  const line = (cells: readonly string[]) => `| ${header.map((_, c) => cell(cells[c] ?? "", c)).join(" | ")} |`;
  const rule = `|${widths.map((w, c) => (align[c] === "right" ? `${"-".repeat(w + 1)}:` : `${"-".repeat(w + 2)}`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** A figure with `digits` decimals (fewer leading digits for large values); "–" when not a finite number. */
export function num(value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  return value.toFixed(Math.abs(value) >= 1000 ? 0 : digits);
}

/** Milliseconds: two decimals below 10 ms, one above. */
export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  return value.toFixed(Math.abs(value) < 10 ? 2 : Math.abs(value) >= 1000 ? 0 : 1);
}

export function ratio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? "–" : `${value.toFixed(2)}×`;
}

export function mb(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) ? "–" : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function paths(m: ModelReport): string {
  const base = m.raw.single.tps;
  const row = (label: string, f: PathFigures) => [
    label,
    num(f.tps),
    ratio(f.tps / base),
    num(f.decodeTps),
    ms(f.ttftMs),
    ms(f.stepP50Ms),
    ms(f.stepP95Ms),
    String(f.runs),
  ];
  const rows = [row("raw ORT loop, batch 1", m.raw.single), row(`raw ORT loop, batch ${m.raw.batch.batch} (sum of rows)`, m.raw.batch)];
  if (m.transformers) rows.push(row("transformers.js generate()", m.transformers));
  rows.push(row("gpt3dev, 1 HTTP stream (SSE chunks)", m.server.single.perStream));
  const header = ["decode path", "tok/s", "× raw", "decode tok/s", "TTFT ms", "step p50 ms", "step p95 ms", "runs"];
  return markdownTable(header, rows, ["left", "right", "right", "right", "right", "right", "right", "right"]);
}

function sweep(m: ModelReport): string {
  const one = m.server.sweep.find((r) => r.streams === 1)?.aggregateTps;
  const limit = m.raw.batch.tps;
  const rows = m.server.sweep.map((r) => [
    String(r.streams),
    num(r.aggregateTps),
    ratio(r.aggregateTps / limit),
    ratio(one === undefined ? undefined : r.aggregateTps / one),
    ms(r.ttftP50Ms),
    ms(r.ttftP95Ms),
    ms(r.itlP50Ms),
    ms(r.itlP95Ms),
  ]);
  const header = ["streams", "aggregate tok/s", `× raw batch ${m.raw.batch.batch}`, "× 1 stream", "TTFT p50 ms", "TTFT p95 ms", "ITL p50 ms", "ITL p95 ms"];
  return markdownTable(header, rows, ["right", "right", "right", "right", "right", "right", "right", "right"]);
}

function serverFacts(m: ModelReport): string {
  const rows: string[][] = [["first request (loads the model)", `${ms(m.server.loadMs)} ms`]];
  for (const r of m.server.sweep) {
    if (r.healthz) rows.push([`/healthz while ${r.streams} streams run (p50 / p99, n=${r.healthz.count})`, `${ms(r.healthz.p50Ms)} / ${ms(r.healthz.p99Ms)} ms`]);
  }
  rows.push([
    "server RSS: started / model loaded / after the sweep",
    `${mb(m.server.rssStartBytes)} / ${mb(m.server.rssLoadedBytes)} / ${mb(m.server.rssEndBytes)}`,
  ]);
  const cost = m.server.rssLoadedBytes - m.server.rssStartBytes;
  const raw = m.raw.rssModelBytes;
  rows.push([
    "model cost in RSS (× its file): server loaded − started / bare onnxruntime-node session",
    `${mb(cost)} (${num(cost / m.fileBytes, 2)}×) / ${raw === undefined ? "–" : `${mb(raw)} (${num(raw / m.fileBytes, 2)}×)`}`,
  ]);
  const leak = m.leak;
  if (leak) {
    const change = (leak.ratio - 1) * 100;
    rows.push([
      `RSS after ${leak.checkpoint} / ${leak.requests} mixed requests (own server)`,
      `${mb(leak.rssCheckpointBytes)} / ${mb(leak.rssEndBytes)} (${change >= 0 ? "+" : ""}${num(change)} %)`,
    ]);
    const series = leak.rssSeriesBytes.map((b) => (b / 2 ** 20).toFixed(0)).join(" ");
    rows.push([`RSS every ${leak.checkpoint} requests (MiB)`, series]);
    const statuses = Object.entries(leak.statuses)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([status, count]) => `${status}×${count}`)
      .join(" ");
    rows.push(["statuses of the mixed requests", statuses]);
  }
  return markdownTable(["server", "value"], rows, ["left", "right"]);
}

export function targetsTable(checks: readonly TargetCheck[]): string {
  const rows = checks.map((c) => [c.model, c.name, c.name.startsWith("RSS") ? num(c.measured, 3) : ratio(c.measured), c.pass ? "pass" : "FAIL"]);
  return markdownTable(["model", "target", "measured", "ok"], rows, ["left", "left", "right", "left"]);
}

export function modelHeading(m: ModelReport, threads: number): string {
  const eos = m.eosAt >= 0 ? ` · greedy output reaches EOS at token ${m.eosAt + 1}: streams end there` : "";
  return `### ${m.key}: ${m.model} · ${m.file} (${mb(m.fileBytes)}) · ${threads} threads · prompt ${m.promptTokens} tokens → ${m.tokens} new tokens${eos}`;
}

/** One line per model: how many rounds, how much they varied, and the machine's load meanwhile. */
export function roundsLine(m: ModelReport): string {
  const spread = (values: (number | undefined)[]) => {
    const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x));
    return v.length === 0 ? "–" : `${num(Math.min(...v))}–${num(Math.max(...v))}`;
  };
  const r = m.rounds;
  const parts = [
    `raw b1 ${spread(r.map((x) => x.rawB1Tps))}`,
    `raw b${m.raw.batch.batch} ${spread(r.map((x) => x.rawBatchTps))}`,
    ...(r.some((x) => x.transformersTps !== undefined) ? [`transformers.js ${spread(r.map((x) => x.transformersTps))}`] : []),
    `gpt3dev 1 stream ${spread(r.map((x) => x.httpC1Tps))}`,
    `${m.raw.batch.batch} streams ${spread(r.map((x) => x.httpBatchTps))}`,
  ];
  return `best of ${r.length} interleaved round(s); tok/s range over rounds: ${parts.join(", ")} · load average (1 min) ${num(m.loadavg1m[0], 2)} → ${num(m.loadavg1m[1], 2)}`;
}

export function renderReport(r: BenchReport): string {
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
  const parts = [
    `## gpt3dev bench · ${r.date} · ${r.machine.cores} cores (${r.machine.cpu}) · ${mb(r.machine.memoryBytes)} RAM`,
    `server: ${r.server} · bun ${r.versions.bun} · onnxruntime-node ${r.versions.onnxruntime} · transformers.js ${r.versions.transformers}` +
      ` · load average ${load(r.machine.loadavgStart)} → ${load(r.machine.loadavgEnd)} · ${num(r.durationS, 0)} s${r.quick ? " · --quick" : ""}`,
  ];
  for (const m of r.models) {
    parts.push(modelHeading(m, r.threads), roundsLine(m), paths(m), sweep(m), serverFacts(m));
    if (m.contexts?.length) {
      parts.push(`long prompts and next turns (best of ${r.rounds} rounds):`, contextsTable(m.contexts));
      parts.push("gpt3dev against llama.cpp on the same weights (GGUF from the ONNX file):", llamaTable(m.contexts));
    }
  }
  parts.push("### targets", targetsTable(r.targets));
  return `${parts.join("\n\n")}\n`;
}

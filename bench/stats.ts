// Timers and summary statistics for the bench (Bun's nanosecond clock, percentiles by nearest rank).

/** Monotonic nanoseconds (Bun's high-resolution timer). */
export function now(): number {
  return Bun.nanoseconds();
}

export function elapsedMs(startNs: number, endNs: number): number {
  return (endNs - startNs) / 1e6;
}

/** Nearest-rank percentile (p in 0..100) of the values; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** Resident set size of a process in bytes, from /proc (Linux); NaN when it cannot be read. */
export async function rssBytes(pid: number): Promise<number> {
  try {
    const status = await Bun.file(`/proc/${pid}/status`).text();
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Shortest measured time per figure: a run shorter than this is repeated (tiny models decode 96 tokens in ~20 ms). */
export const MIN_MEASURE_MS = 1000;
const MAX_REPEATS = 100;

/** Runs `once` at least once and then again until `minMs` of its own time has passed (at most 100 runs). */
export async function repeatFor<T>(once: () => Promise<T>, durationMs: (result: T) => number, minMs = MIN_MEASURE_MS): Promise<T[]> {
  const results: T[] = [];
  let total = 0;
  do {
    const result = await once();
    results.push(result);
    total += durationMs(result);
  } while (total < minMs && results.length < MAX_REPEATS);
  return results;
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** One timed decode: `rows` sequences of `tokens` new tokens each, as one caller saw it. */
export interface Decode {
  rows: number;
  tokens: number;
  startNs: number;
  /** When the first new token was available. */
  firstNs: number;
  endNs: number;
  /** Time between consecutive deliveries of tokens (ms). */
  gapsMs: number[];
  /** How many times tokens were delivered; fewer than tokens when a server sends them in bursts. */
  deliveries: number;
}

/** The figures of one decode path over one or more repeated decodes. */
export interface PathFigures {
  runs: number;
  /** New tokens per sequence in one run. */
  tokens: number;
  /** End to end, prompt included: all tokens / all time from start to last token. */
  tps: number;
  /** After the first token: rows × (tokens − 1) / time from first to last token; NaN when delivered in bursts. */
  decodeTps: number;
  /** Median time to the first token. */
  ttftMs: number;
  stepP50Ms: number;
  stepP95Ms: number;
}

export function summarize(decodes: readonly Decode[]): PathFigures {
  const bursty = decodes.some((d) => d.deliveries < d.tokens / 2);
  const gaps = decodes.flatMap((d) => d.gapsMs);
  return {
    runs: decodes.length,
    tokens: decodes[0]?.tokens ?? 0,
    tps: sum(decodes.map((d) => d.rows * d.tokens)) / (sum(decodes.map((d) => elapsedMs(d.startNs, d.endNs))) / 1000),
    decodeTps: bursty
      ? Number.NaN
      : sum(decodes.map((d) => d.rows * (d.tokens - 1))) / (sum(decodes.map((d) => elapsedMs(d.firstNs, d.endNs))) / 1000),
    ttftMs: percentile(decodes.map((d) => elapsedMs(d.startNs, d.firstNs)), 50),
    stepP50Ms: percentile(gaps, 50),
    stepP95Ms: percentile(gaps, 95),
  };
}

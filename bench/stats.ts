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

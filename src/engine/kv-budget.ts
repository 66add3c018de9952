import { readFileSync } from "node:fs";
import { totalmem } from "node:os";

/**
 * The key/value cache budget of one loaded model (`--kv-cache-memory`). Every sequence reserves the positions it may
 * come to hold (prompt + max_tokens) when it is admitted, and gives them back when it ends. The batch's cache is
 * left-padded to its longest row, so what the running sequences hold is rows × longest reservation × bytes per
 * position; the scheduler admits a sequence only while that stays within the limit, and queues the rest. A sequence
 * that alone exceeds the limit still runs, alone, so that no request waits forever. Cached prefixes (the prefix cache)
 * live in what the reservations leave (`spareBytes`) and give way when a sequence is admitted.
 */
export class KvBudget<Key = object> {
  private readonly reserved = new Map<Key, number>();

  constructor(
    /** Bytes the running sequences of this model may hold; Infinity: no limit. */
    readonly limitBytes: number,
    /** Bytes one position of one sequence takes in the cache (keys and values of every layer). */
    readonly bytesPerPosition: number,
  ) {}

  /** Bytes the batch would hold with these reservations (rows × longest × bytes per position). */
  private bytesFor(rows: number, longest: number): number {
    return rows * longest * this.bytesPerPosition;
  }

  /** Whether a sequence reserving `positions` may start now. */
  fits(positions: number): boolean {
    if (this.reserved.size === 0) return true;
    const longest = Math.max(positions, ...this.reserved.values());
    return this.bytesFor(this.reserved.size + 1, longest) <= this.limitBytes;
  }

  take(key: Key, positions: number): void {
    this.reserved.set(key, positions);
  }

  release(key: Key): void {
    this.reserved.delete(key);
  }

  clear(): void {
    this.reserved.clear();
  }

  /** Bytes the limit leaves beside the running sequences' reservations (for cached prefixes); Infinity without a limit. */
  get spareBytes(): number {
    return this.limitBytes - this.reservedBytes;
  }

  /** Bytes reserved by the running sequences now. */
  get reservedBytes(): number {
    if (this.reserved.size === 0) return 0;
    return this.bytesFor(this.reserved.size, Math.max(...this.reserved.values()));
  }
}

/** The memory this process may use: the machine's RAM, or its cgroup's limit (a container, a systemd MemoryMax=) when lower. */
export function availableMemoryBytes(): number {
  const total = totalmem();
  try {
    const limit = Number(readFileSync("/sys/fs/cgroup/memory.max", "utf8").trim());
    if (Number.isFinite(limit) && limit > 0 && limit < total) return limit;
  } catch {
    // No cgroup v2 limit readable: the machine's RAM.
  }
  return total;
}

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Parses `--kv-cache-memory`: bytes ("536870912", "512MiB", "1.5G", "2GB"; binary multiples) or a share of the
 * memory available ("25%" of `totalBytes`). Returns undefined for anything else.
 */
export function parseMemorySize(text: string, totalBytes: number): number | undefined {
  const value = text.trim().toLowerCase();
  const share = /^(\d+(?:\.\d+)?)\s*%$/.exec(value);
  if (share) {
    const percent = Number(share[1]);
    return percent > 0 && percent <= 100 ? Math.floor((totalBytes * percent) / 100) : undefined;
  }
  const size = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/.exec(value);
  if (!size) return undefined;
  const bytes = Math.floor(Number(size[1]) * UNITS[size[2]!]!);
  return bytes > 0 ? bytes : undefined;
}

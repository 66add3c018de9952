import { readFileSync, statSync } from "node:fs";
import { freemem } from "node:os";
import { basename, dirname, join } from "node:path";
import { graphWithData } from "./model-files.ts";

/**
 * What a text model's fp16 file does with its matrix weights on a CPU without fp16 matrix kernels (x86):
 * `float32` widens them once at load (twice the file in memory, the fastest decoding), `float16` keeps them as they
 * are and widens them at each step (about the file in memory, slower decoding), `auto` widens them unless the widened
 * weights would take more than half the memory still free when the model loads (models loaded before count).
 */
export const FP16_WEIGHT_MODES = ["auto", "float32", "float16"] as const;
export type Fp16Weights = (typeof FP16_WEIGHT_MODES)[number];

/** Share of the free memory (the machine's, or the cgroup's room) widened weights may take before `auto` keeps them fp16. */
export const AUTO_WIDEN_SHARE = 0.5;

/** Whether a model's fp16 weights stay fp16: `fileBytes` is its fp16 ONNX file with its external data, `memoryBytes` the memory free. */
export function keepsHalfWeights(mode: Fp16Weights, dtype: string, fileBytes: number, memoryBytes: number): boolean {
  if (dtype !== "fp16" || mode === "float32") return false;
  return mode === "float16" || 2 * fileBytes > AUTO_WIDEN_SHARE * memoryBytes;
}

/** Bytes of an ONNX file and of its external data files (model-files.ts, graphWithData). */
export function onnxBytes(path: string): number {
  const dir = dirname(path);
  return graphWithData(dir, basename(path)).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/**
 * Memory a load can still take, in bytes: the machine's MemAvailable (/proc/meminfo), or less when the process runs
 * in a cgroup with a limit (a container, systemd's MemoryMax=): that limit minus what the cgroup uses.
 */
export function freeMemoryBytes(meminfo: string, cgroupMax?: string, cgroupCurrent?: string): number | undefined {
  const kb = /^MemAvailable:\s+(\d+)\s+kB/m.exec(meminfo)?.[1];
  let free = kb === undefined ? undefined : Number(kb) * 1024;
  const max = Number(cgroupMax?.trim());
  const current = Number(cgroupCurrent?.trim());
  if (Number.isFinite(max) && max > 0 && Number.isFinite(current)) free = Math.min(free ?? Infinity, Math.max(0, max - current));
  return free;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** freeMemoryBytes for this process now (os.freemem where /proc cannot be read). */
export function freeMemoryNow(): number {
  return freeMemoryBytes(readOr("/proc/meminfo") ?? "", readOr("/sys/fs/cgroup/memory.max"), readOr("/sys/fs/cgroup/memory.current")) ?? freemem();
}

/** `keepsHalfWeights` for the file at `path`, against the memory free now. */
export function halfWeightsFor(mode: Fp16Weights, dtype: string, path: string): boolean {
  if (dtype !== "fp16" || mode === "float32") return false;
  return keepsHalfWeights(mode, dtype, onnxBytes(path), freeMemoryNow());
}

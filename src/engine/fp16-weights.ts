import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { availableMemoryBytes } from "./kv-budget.ts";

/**
 * What a text model's fp16 file does with its matrix weights on a CPU without fp16 matrix kernels (x86):
 * `float32` widens them once at load (twice the file in memory, the fastest decoding), `float16` keeps them as they
 * are and widens them at each step (about the file in memory, slower decoding), `auto` widens them unless the widened
 * weights would take more than half the memory this process may use.
 */
export const FP16_WEIGHT_MODES = ["auto", "float32", "float16"] as const;
export type Fp16Weights = (typeof FP16_WEIGHT_MODES)[number];

/** Share of the process's memory (RAM or cgroup limit) the widened weights may take before `auto` keeps them fp16. */
export const AUTO_WIDEN_SHARE = 0.5;

/** Whether a model's fp16 weights stay fp16: `fileBytes` is its fp16 ONNX file with its external data. */
export function keepsHalfWeights(mode: Fp16Weights, dtype: string, fileBytes: number, memoryBytes: number): boolean {
  if (dtype !== "fp16" || mode === "float32") return false;
  return mode === "float16" || 2 * fileBytes > AUTO_WIDEN_SHARE * memoryBytes;
}

/** Bytes of an ONNX file and of the external data files beside it (`model_fp16.onnx_data`, `…onnx_data_1`, …). */
export function onnxBytes(path: string): number {
  if (!existsSync(path)) return 0;
  const name = basename(path);
  const dir = dirname(path);
  let bytes = statSync(path).size;
  for (const file of readdirSync(dir)) if (file.startsWith(`${name}_data`) || file.startsWith(`${name}.data`)) bytes += statSync(join(dir, file)).size;
  return bytes;
}

/** `keepsHalfWeights` for the file at `path`, against the memory this process may use now. */
export function halfWeightsFor(mode: Fp16Weights, dtype: string, path: string): boolean {
  if (dtype !== "fp16" || mode === "float32") return false;
  return keepsHalfWeights(mode, dtype, onnxBytes(path), availableMemoryBytes());
}

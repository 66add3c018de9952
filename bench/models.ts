// The models the bench runs on, where they live, how the server is told to serve them, and their generation on
// demand: the tiny test model comes from `bun run fixtures` (models/), the GPT-2-small-shaped bench model from the
// same generator with --only gpt2-small-bench into bench/models/ (gitignored, ≈ 630 MB, deterministic, ≈ 20 s).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readDecoderConfig } from "../src/engine/model-config.ts";
import { loadTokenizer } from "../src/runtime/model-tokenizer.ts";
import type { ModelKey } from "./args.ts";
import { REPO_ROOT } from "./server.ts";

export const BENCH_MODELS_DIR = join(REPO_ROOT, "bench", "models");
const TINY_DIR = join(REPO_ROOT, "models", "tiny-gpt2");
const BENCH_DIR = join(BENCH_MODELS_DIR, "gpt2-small-bench");

/** The prompt every row decodes from (the same token ids everywhere; the server gets ids, not text). */
export const PROMPT = "The quick brown fox jumps over the lazy dog. Once upon a time";

export interface BenchModel {
  key: ModelKey;
  dir: string;
  /** File under onnx/. */
  file: string;
  /** transformers.js dtype of that file. */
  dtype: "fp32" | "q8";
  /** The id the server serves it under, and the flags that make it serve exactly that. */
  serverModel: string;
  serverArgs: string[];
  contextLength: number;
}

/** A registry file that serves the bench model's int8 file under its own id. */
function int8Registry(): string {
  const dir = join(BENCH_MODELS_DIR, ".registry");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "int8.json");
  writeFileSync(path, `${JSON.stringify({ models: [{ name: "gpt2-small-bench-int8", path: BENCH_DIR, dtype: "q8" }] }, null, 2)}\n`);
  return path;
}

/** A model the bench measures: which file the raw paths open, and how the server is started to serve the same. */
function served(
  key: ModelKey,
  dir: string,
  file: string,
  dtype: BenchModel["dtype"],
  serverModel: string,
  modelsArgs: string[],
): BenchModel {
  return {
    key,
    dir,
    file,
    dtype,
    serverModel,
    serverArgs: [...modelsArgs, "--allow-models", serverModel],
    contextLength: readDecoderConfig(dir).contextLength,
  };
}

export function benchModel(key: ModelKey): BenchModel {
  switch (key) {
    case "tiny":
      return served(key, TINY_DIR, "model.onnx", "fp32", "tiny-gpt2", ["--models-dir", join(REPO_ROOT, "models")]);
    case "bench-fp32":
      return served(key, BENCH_DIR, "model.onnx", "fp32", "gpt2-small-bench", ["--models-dir", BENCH_MODELS_DIR]);
    case "bench-int8":
      return served(key, BENCH_DIR, "model_quantized.onnx", "q8", "gpt2-small-bench-int8", [
        "--models-dir",
        BENCH_MODELS_DIR,
        "--registry",
        int8Registry(),
      ]);
  }
}

/** Runs the generator with its output on stderr (stdout carries only the bench's tables). */
async function run(cmd: string[]): Promise<void> {
  const proc = Bun.spawn(cmd, { cwd: REPO_ROOT, stdout: "pipe", stderr: "inherit" });
  for await (const chunk of proc.stdout) process.stderr.write(chunk);
  if ((await proc.exited) !== 0) throw new Error(`${cmd.join(" ")} failed`);
}

/**
 * Generates what is missing or stale. The generator skips a model whose stamp matches the files on disk, so this
 * costs a hash of the files when nothing changed.
 */
export async function ensureModels(keys: readonly ModelKey[], log: (line: string) => void): Promise<void> {
  const generator = join(REPO_ROOT, "scripts", "make-models.ts");
  if (keys.includes("tiny") && !existsSync(join(TINY_DIR, "config.json"))) {
    log("generating the test models (bun run fixtures)");
    await run([process.execPath, generator, "--quiet"]);
  }
  if (keys.some((k) => k !== "tiny")) {
    log(`checking the bench model in ${BENCH_DIR} (generated when missing or stale, ≈ 20 s)`);
    await run([process.execPath, generator, "--out", BENCH_MODELS_DIR, "--only", "gpt2-small-bench"]);
  }
}

/** The prompt as the model's own tokenizer splits it. */
export async function promptIds(m: BenchModel): Promise<number[]> {
  const tokenizer = await loadTokenizer(m.dir);
  return Array.from(tokenizer.encode(PROMPT, { add_special_tokens: false }));
}

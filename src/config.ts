import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { SchedulerOptions } from "./engine/generation-job.ts";
import { FP16_WEIGHT_MODES, type Fp16Weights } from "./engine/fp16-weights.ts";
import { TIED_HEAD_MODES, type TiedHead } from "./engine/tied-head.ts";
import { parseKeepAlive } from "./engine/keep-alive.ts";
import { availableMemoryBytes, parseMemorySize } from "./engine/kv-budget.ts";
import type { GraphOptimizationLevel } from "./runtime/session.ts";
import { OPTIONS } from "./config-options.ts";

/** Every setting of the server, with its flag, env twin and default in one place. */
export interface Config {
  port: number;
  host: string;
  modelsDir: string;
  registryPath?: string;
  allowList: string[];
  maxLoadedModels: number;
  /** How long an idle model stays loaded, in milliseconds; undefined: for ever (until evicted or unloaded). */
  keepAliveMs?: number;
  intraOpThreads: number;
  /** Intra-op threads of the auxiliary worker's models (embeddings), which run beside decoding. */
  auxiliaryIntraOpThreads: number;
  /** Niceness of the auxiliary worker's threads (Linux), so decoding wins the cores they compete for. */
  auxiliaryNice: number;
  /** ONNX Runtime graph rewrites applied when a model loads. */
  graphOptimization: GraphOptimizationLevel;
  /** Where rewritten model graphs are kept (src/runtime/graph-rewrite/); undefined: models are opened as they are. */
  cacheDir?: string;
  /** ONNX Runtime keeps a pre-packed copy of each matrix-multiply weight (faster GEMM, more memory). */
  prepackWeights: boolean;
  /** Pre-packed weights saved once in the cache and mapped by every load (src/runtime/packed-weights.ts). */
  packedWeightsFile: boolean;
  /** ONNX Runtime threads spin while a run is in flight, and sleep between runs. */
  spinning: boolean;
  /** Decoder outputs are written in place through ONNX Runtime's C API (src/runtime/direct-session.ts). */
  inPlaceOutputs: boolean;
  fusedAttention: boolean;
  /** What text models' fp16 files do with their matrix weights (src/engine/fp16-weights.ts). */
  fp16Weights: Fp16Weights;
  /** What text models' tied LM heads do (src/engine/tied-head.ts). */
  tiedHead: TiedHead;
  /** ONNX Runtime's CPU memory arena. */
  memoryArena: boolean;
  /** Continuous batching, per loaded text model. */
  scheduler: SchedulerOptions;
  /** How long in-flight requests may run after SIGTERM/SIGINT before they are cut off. */
  shutdownGraceSeconds: number;
  /** Keys given on the command line or in API_KEYS; the key file's keys are read (and re-read) by the server. */
  apiKeys: string[];
  apiKeyFile?: string;
  /** Origins browsers may call from; empty: no CORS headers at all. */
  corsAllowOrigins: string[];
  limits: Limits;
  log: LogSettings;
  /** Serve /metrics without a key even when keys are set. */
  metricsPublic: boolean;
}

export type LogFormat = "plain" | "json";
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogSettings {
  format: LogFormat;
  level: LogLevel;
  /** Put prompt and completion text in the request log lines (off by default: prompts stay private). */
  prompts: boolean;
}

/** Caps on what one request may ask for, so a single client cannot exhaust memory or CPU. */
export interface Limits {
  maxBodyBytes: number;
  /** Largest multipart upload (an audio file with its form fields). */
  maxAudioBytes: number;
  maxTokens: number;
  maxN: number;
  maxPrompts: number;
  maxPromptChars: number;
  maxEmbeddingInputs: number;
  maxStopSequences: number;
  maxStopChars: number;
  requestTimeoutSeconds: number;
  /** Chat requests may carry their own Jinja template (rendering one costs the engine worker's time). */
  requestChatTemplates: boolean;
}

export type CliResult = { kind: "run"; config: Config } | { kind: "help" } | { kind: "version" };

export class ConfigError extends Error {}


/** Where the executable (or, from source, the repository) lives: default models come from beside it. */
export function appHome(): string {
  if (Bun.isStandaloneExecutable) return dirname(process.execPath);
  return resolve(import.meta.dir, "..");
}

export function defaultModelsDir(): string {
  return join(appHome(), "models");
}

export function parseCli(argv: readonly string[], env: Record<string, string | undefined>): CliResult {
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  try {
    const options = Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: o.type, multiple: o.multiple ?? false }]));
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const get = (flag: string): string | undefined => {
    const option = OPTIONS.find((o) => o.flag === flag);
    const fromFlag = values[flag];
    if (typeof fromFlag === "string") return fromFlag;
    const fromEnv = option?.env ? env[option.env] : undefined;
    return fromEnv === "" ? undefined : fromEnv;
  };
  const list = (flag: string): string[] => {
    const fromFlag = values[flag];
    const items = Array.isArray(fromFlag) ? fromFlag.map(String) : (get(flag) ?? "").split(",");
    return items.map((s) => s.trim()).filter(Boolean);
  };
  const flag = (name: string): boolean => {
    if (values[name] === true) return true;
    const option = OPTIONS.find((o) => o.flag === name);
    const text = (option?.env ? env[option.env] : undefined)?.trim().toLowerCase() ?? "";
    if (["", "0", "false", "no", "off"].includes(text)) return false;
    if (["1", "true", "yes", "on"].includes(text)) return true;
    throw new ConfigError(`${option?.env}: expected true or false, got '${text}'`);
  };
  const limit = (flag: string, min: number, max: number) => {
    const option = OPTIONS.find((o) => o.flag === flag);
    return integer(flag, get(flag) ?? option?.defaultText ?? "", min, max);
  };
  const apiKeyFile = get("api-key-file");
  if (apiKeyFile && !existsSync(apiKeyFile)) throw new ConfigError(`--api-key-file: file not found: ${apiKeyFile}`);
  const registryPath = get("registry");
  if (registryPath && !existsSync(registryPath)) throw new ConfigError(`--registry: file not found: ${registryPath}`);
  const modelsDir = get("models-dir");
  // A mistyped folder would otherwise start a server with no models; with a registry it may hold them all.
  if (modelsDir && !registryPath && !statSync(modelsDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ConfigError(`--models-dir: folder not found: ${resolve(modelsDir)}`);
  }
  // Kept fp16 weights are a load-time rewrite, written to the cache folder: without one they could only be widened.
  if (get("fp16-weights") === "float16" && get("cache-dir") === "none") {
    throw new ConfigError("--fp16-weights float16 rewrites fp16 models at load into the cache folder; it cannot be used with --cache-dir none");
  }
  if (get("tied-head") === "shared" && get("cache-dir") === "none") {
    throw new ConfigError("--tied-head shared rewrites text models at load into the cache folder; it cannot be used with --cache-dir none");
  }
  return {
    kind: "run",
    config: {
      port: integer("port", get("port") ?? "7860", 0, 65535),
      host: get("host") ?? "0.0.0.0",
      modelsDir: resolve(modelsDir ?? defaultModelsDir()),
      registryPath: registryPath ? resolve(registryPath) : undefined,
      allowList: (get("allow-models") ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
      maxLoadedModels: integer("max-loaded-models", get("max-loaded-models") ?? "2", 1, 1000),
      keepAliveMs: keepAlive(get("keep-alive")),
      intraOpThreads: integer("threads", get("threads") ?? "0", 0, 1024),
      auxiliaryIntraOpThreads: integer("auxiliary-threads", get("auxiliary-threads") ?? "1", 0, 1024),
      auxiliaryNice: integer("auxiliary-nice", get("auxiliary-nice") ?? "10", 0, 19),
      graphOptimization: oneOf("graph-optimization", get("graph-optimization") ?? "all", GRAPH_OPTIMIZATION_LEVELS),
      cacheDir: cacheDir(get("cache-dir"), env),
      prepackWeights: oneOf("prepack-weights", get("prepack-weights") ?? "on", ["on", "off"] as const) === "on",
      packedWeightsFile: oneOf("packed-weights", get("packed-weights") ?? "file", ["file", "heap"] as const) === "file",
      spinning: oneOf("ort-spinning", get("ort-spinning") ?? "off", ["on", "off"] as const) === "on",
      memoryArena: oneOf("ort-arena", get("ort-arena") ?? "on", ["on", "off"] as const) === "on",
      inPlaceOutputs: oneOf("ort-outputs", get("ort-outputs") ?? "in-place", ["in-place", "copied"] as const) === "in-place",
      fusedAttention: oneOf("attention", get("attention") ?? "fused", ["fused", "exported"] as const) === "fused",
      fp16Weights: oneOf("fp16-weights", get("fp16-weights") ?? "auto", FP16_WEIGHT_MODES),
      tiedHead: oneOf("tied-head", get("tied-head") ?? "auto", TIED_HEAD_MODES),
      scheduler: {
        maxBatch: integer("max-batch", get("max-batch") ?? "8", 1, 256),
        maxQueue: integer("max-queue", get("max-queue") ?? "64", 0, 100_000),
        prefillChunk: integer("prefill-chunk", get("prefill-chunk") ?? "256", 1, 65_536),
        prefixCacheBytes: integer("prefix-cache-mb", get("prefix-cache-mb") ?? "256", 0, 1 << 20) * 2 ** 20,
        kvCacheBytes: memorySize("kv-cache-memory", get("kv-cache-memory") ?? "25%"),
      },
      shutdownGraceSeconds: integer("shutdown-grace-seconds", get("shutdown-grace-seconds") ?? "30", 0, 86400),
      apiKeys: list("api-key"),
      apiKeyFile: apiKeyFile ? resolve(apiKeyFile) : undefined,
      corsAllowOrigins: list("cors-allow-origins"),
      log: {
        format: oneOf("log-format", get("log-format") ?? "plain", LOG_FORMATS),
        level: oneOf("log-level", get("log-level") ?? "info", LOG_LEVELS),
        prompts: flag("log-prompts"),
      },
      metricsPublic: flag("metrics-public"),
      limits: {
        maxBodyBytes: limit("max-body-bytes", 1024, 1 << 30),
        maxAudioBytes: limit("max-audio-bytes", 1024, 1 << 30),
        maxTokens: limit("max-tokens-cap", 1, 1_000_000),
        maxN: limit("max-n", 1, 128),
        maxPrompts: limit("max-prompts", 1, 2048),
        maxPromptChars: limit("max-prompt-chars", 1, 100_000_000),
        maxEmbeddingInputs: limit("max-embedding-inputs", 1, 2048),
        maxStopSequences: limit("max-stop-sequences", 0, 64),
        maxStopChars: limit("max-stop-chars", 1, 10_000),
        requestTimeoutSeconds: limit("request-timeout-seconds", 1, 86400),
        requestChatTemplates: oneOf("request-chat-templates", get("request-chat-templates") ?? "on", ["on", "off"] as const) === "on",
      },
    },
  };
}

function keepAlive(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseKeepAlive(value) ?? undefined;
  } catch (error) {
    throw new ConfigError(`--keep-alive: ${(error as Error).message}`);
  }
}

/**
 * The cache folder: the flag's value ('none' turns it off), else the one systemd made for the unit
 * (`CacheDirectory=` sets $CACHE_DIRECTORY), else the XDG cache folder, else ~/.cache.
 */
function cacheDir(value: string | undefined, env: Record<string, string | undefined>): string | undefined {
  if (value === "none") return undefined;
  if (value) return resolve(value);
  if (env.CACHE_DIRECTORY) return resolve(env.CACHE_DIRECTORY.split(":")[0]!);
  const base = env.XDG_CACHE_HOME || (env.HOME ? join(env.HOME, ".cache") : undefined);
  return base ? join(base, "gpt3dev") : undefined;
}

/** Bytes or a share of the memory this process may use ('none': undefined, no limit). */
function memorySize(flag: string, text: string): number | undefined {
  if (text.trim() === "none") return undefined;
  const bytes = parseMemorySize(text, availableMemoryBytes());
  if (bytes === undefined) throw new ConfigError(`--${flag}: expected bytes (e.g. 536870912, 512MiB, 2G), a share of RAM (e.g. 25%) or none, got '${text}'`);
  return bytes;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new ConfigError(`--${flag}: expected an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

// Listed here rather than imported from src/runtime/, which would load ONNX Runtime just to parse flags.
const GRAPH_OPTIMIZATION_LEVELS: readonly GraphOptimizationLevel[] = ["disabled", "basic", "extended", "all"];

const LOG_FORMATS: readonly LogFormat[] = ["plain", "json"];
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

function oneOf<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new ConfigError(`--${flag}: expected one of ${allowed.join(", ")}, got '${text}'`);
  }
  return text as T;
}

export function helpText(): string {
  const rows = OPTIONS.map((o) => {
    const flag = o.type === "string" ? `--${o.flag} <value>` : `--${o.flag}`;
    const env = o.env ? `  [env ${o.env}]` : "";
    const def = o.defaultText ? ` (default: ${o.defaultText})` : "";
    return `  ${flag.padEnd(34)} ${o.description}${def}${env}`;
  });
  return ["Usage: gpt3dev [options]", "", "OpenAI-compatible server for local ONNX models.", "", "Options:", ...rows].join("\n");
}

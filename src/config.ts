import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";

/** Every setting of the server, with its flag, env twin and default in one place. */
export interface Config {
  port: number;
  host: string;
  modelsDir: string;
  registryPath?: string;
  allowList: string[];
  maxLoadedModels: number;
  intraOpThreads: number;
  /** How long in-flight requests may run after SIGTERM/SIGINT before they are cut off. */
  shutdownGraceSeconds: number;
}

export type CliResult = { kind: "run"; config: Config } | { kind: "help" } | { kind: "version" };

export class ConfigError extends Error {}

interface Option {
  flag: string;
  env: string;
  type: "string" | "boolean";
  description: string;
  defaultText: string;
}

export const OPTIONS: readonly Option[] = [
  { flag: "port", env: "GPT3DEV_PORT", type: "string", description: "TCP port to listen on", defaultText: "7860" },
  { flag: "host", env: "GPT3DEV_HOST", type: "string", description: "address to bind", defaultText: "0.0.0.0" },
  {
    flag: "models-dir",
    env: "GPT3DEV_MODELS_DIR",
    type: "string",
    description: "folder with one sub-folder per model (Hugging Face / Optimum ONNX layout)",
    defaultText: "models/ beside the executable",
  },
  {
    flag: "registry",
    env: "MODEL_REGISTRY_PATH",
    type: "string",
    description: "JSON or YAML file listing extra models and per-model settings",
    defaultText: "none",
  },
  {
    flag: "allow-models",
    env: "MODEL_ALLOW_LIST",
    type: "string",
    description: "comma-separated model ids to serve (others are hidden)",
    defaultText: "all",
  },
  {
    flag: "max-loaded-models",
    env: "GPT3DEV_MAX_LOADED_MODELS",
    type: "string",
    description: "models kept in memory at once; the least recently used is unloaded",
    defaultText: "2",
  },
  {
    flag: "threads",
    env: "GPT3DEV_THREADS",
    type: "string",
    description: "ONNX Runtime intra-op threads per model (0 = one per core)",
    defaultText: "0",
  },
  {
    flag: "shutdown-grace-seconds",
    env: "GPT3DEV_SHUTDOWN_GRACE_SECONDS",
    type: "string",
    description: "on SIGTERM/SIGINT, time in-flight requests (streams too) get to finish; 0 cuts them at once",
    defaultText: "30",
  },
  { flag: "help", env: "", type: "boolean", description: "print this help and exit", defaultText: "" },
  { flag: "version", env: "", type: "boolean", description: "print versions and exit", defaultText: "" },
];

/** Where the executable (or, from source, the repository) lives: default models come from beside it. */
export function appHome(): string {
  if (Bun.isStandaloneExecutable) return dirname(process.execPath);
  return resolve(import.meta.dir, "..");
}

export function parseCli(argv: readonly string[], env: Record<string, string | undefined>): CliResult {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: o.type }]));
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
  const registryPath = get("registry");
  if (registryPath && !existsSync(registryPath)) throw new ConfigError(`--registry: file not found: ${registryPath}`);
  return {
    kind: "run",
    config: {
      port: integer("port", get("port") ?? "7860", 0, 65535),
      host: get("host") ?? "0.0.0.0",
      modelsDir: resolve(get("models-dir") ?? join(appHome(), "models")),
      registryPath: registryPath ? resolve(registryPath) : undefined,
      allowList: (get("allow-models") ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
      maxLoadedModels: integer("max-loaded-models", get("max-loaded-models") ?? "2", 1, 1000),
      intraOpThreads: integer("threads", get("threads") ?? "0", 0, 1024),
      shutdownGraceSeconds: integer("shutdown-grace-seconds", get("shutdown-grace-seconds") ?? "30", 0, 86400),
    },
  };
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new ConfigError(`--${flag}: expected an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
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

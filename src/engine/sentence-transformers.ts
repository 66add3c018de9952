// What a sentence-transformers model folder says about turning token vectors into one embedding: `modules.json`
// lists the modules applied after the transformer (Pooling, Normalize, …) and the Pooling module's folder
// (usually `1_Pooling/`) holds its `config.json`. gpt3dev applies Pooling and Normalize itself; a module it cannot
// apply (a Dense projection, say) makes the folder one it refuses, rather than serving vectors the model was not
// trained to produce.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UnsupportedFormatError } from "./errors.ts";
import type { PoolingMode } from "./pooling.ts";

export interface SentenceTransformersFacts {
  /** From the Pooling module's config; undefined when the folder has none. */
  pooling?: PoolingMode;
  /** Whether a Normalize module follows; undefined when the folder has no modules.json. */
  normalize?: boolean;
}

const MODULE = "sentence_transformers.models.";
const APPLIED = new Set(["Transformer", "Pooling", "Normalize"]);

/** `pooling_mode_*` flags of sentence-transformers' Pooling config and the mode gpt3dev names each. */
const POOLING_FLAGS: Record<string, PoolingMode> = {
  pooling_mode_cls_token: "cls",
  pooling_mode_mean_tokens: "mean",
  pooling_mode_max_tokens: "max",
  pooling_mode_lasttoken: "lasttoken",
  pooling_mode_mean_sqrt_len_tokens: "mean_sqrt_len",
  pooling_mode_weightedmean_tokens: "weightedmean",
};

interface ModuleEntry {
  type: string;
  path: string;
}

/** A JSON file of the folder (`rel` is what a refusal names: clients never see where the server keeps models). */
function readObject(dir: string, rel: string): Record<string, unknown> | undefined {
  const path = join(dir, rel);
  if (!existsSync(path)) return undefined;
  const value: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (typeof value !== "object" || value === null) throw new UnsupportedFormatError(`${rel} is not a JSON object or list`);
  return value as Record<string, unknown>;
}

function readModules(dir: string): ModuleEntry[] | undefined {
  const raw = readObject(dir, "modules.json");
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw new UnsupportedFormatError("modules.json is not a list of modules");
  return raw.map((m: Record<string, unknown>) => ({ type: String(m.type ?? ""), path: String(m.path ?? "") }));
}

/** The pooling a Pooling config asks for; throws UnsupportedFormatError naming a mode gpt3dev does not apply. */
export function poolingFromConfig(config: Record<string, unknown>): PoolingMode {
  const on = Object.keys(config).filter((key) => key.startsWith("pooling_mode_") && config[key] === true);
  if (on.length !== 1) {
    const what = on.length === 0 ? "no pooling mode" : `several pooling modes at once (${on.join(", ")}), whose vectors it concatenates`;
    throw new UnsupportedFormatError(`the sentence-transformers Pooling config sets ${what}; gpt3dev applies exactly one`);
  }
  const mode = POOLING_FLAGS[on[0]!];
  if (mode === undefined) throw new UnsupportedFormatError(`the sentence-transformers Pooling config asks for ${on[0]}, which gpt3dev does not apply`);
  return mode;
}

/** Reads modules.json and the Pooling config of a model folder (both optional). */
export function readSentenceTransformers(dir: string): SentenceTransformersFacts {
  const modules = readModules(dir);
  if (modules === undefined) {
    // Some exports keep 1_Pooling/ without modules.json: its pooling still says how the model was trained.
    const config = readObject(dir, join("1_Pooling", "config.json"));
    return config === undefined ? {} : { pooling: poolingFromConfig(config) };
  }
  const names = modules.map((m) => (m.type.startsWith(MODULE) ? m.type.slice(MODULE.length) : m.type));
  const foreign = names.filter((name) => !APPLIED.has(name));
  if (foreign.length > 0) {
    throw new UnsupportedFormatError(`modules.json has modules gpt3dev does not apply after the encoder: ${foreign.join(", ")}`);
  }
  const poolingModule = modules[names.indexOf("Pooling")];
  const config = poolingModule ? readObject(dir, join(poolingModule.path, "config.json")) : undefined;
  if (poolingModule && config === undefined) throw new UnsupportedFormatError(`modules.json names a Pooling module but ${poolingModule.path}/config.json is missing`);
  return { pooling: config === undefined ? undefined : poolingFromConfig(config), normalize: names.includes("Normalize") };
}

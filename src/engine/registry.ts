import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { MODEL_KINDS, type ModelKind } from "./errors.ts";
import { defaultDtype, DTYPES, isDtype, kindOfFamily, refusalOf } from "./model-files.ts";
import { parseKeepAlive } from "./keep-alive.ts";
import { moderationSettingsOf, type ModerationSettings } from "./moderation.ts";
import { isOpenAIEncodingName, OPENAI_ENCODINGS, type OpenAIEncodingName } from "./openai-encoding.ts";
import { isPoolingMode, POOLING_MODES, type PoolingMode } from "./pooling.ts";

/** What the server knows about a model before loading it. */
export interface ModelSpec {
  id: string;
  dir: string;
  kind: ModelKind;
  /**
   * ONNX weight variant: fp32 → onnx/model.onnx, q8 → onnx/model_quantized.onnx, … (transformers.js naming); when
   * not configured, chosen from the files present (see model-files.ts).
   */
  dtype: string;
  /** Where the dtype came from: the registry entry, config.json's transformers.js_config, or the files present. */
  dtypeSource: "registry" | "files";
  maxContextTokens?: number;
  chatTemplate?: string;
  /** The OpenAI encoding the tokenizer reproduces; usage is then counted with it. Detected at load when unset. */
  openaiEncoding?: OpenAIEncodingName;
  /**
   * Sequences decoded together at most, below the server-wide --max-batch. 1 makes a request's output independent
   * of other traffic even for int8 models, whose dynamic quantization scales activations over the whole batch.
   */
  maxBatch?: number;
  /** The kind was set in the registry: an unknown family is then tried rather than refused. */
  explicitKind?: boolean;
  ownedBy: string;
  created: number;
  /** Embeddings models only; unset fields fall back to the model folder's own settings, then to the defaults. */
  embedding?: EmbeddingSettings;
  /** Moderation models only: how the classifier's labels map onto categories, and each category's threshold. */
  moderation?: ModerationSettings;
  /**
   * How long the model stays loaded once idle, in milliseconds; null: for ever (until evicted or unloaded);
   * undefined: the server's default.
   */
  keepAliveMs?: number | null;
}

export interface EmbeddingSettings {
  /** How token vectors become one vector (default: what the folder's sentence-transformers Pooling config says, else "mean"). */
  pooling?: PoolingMode;
  /** L2-normalise every vector (default: whether modules.json has a Normalize module; true without modules.json). */
  normalize?: boolean;
  /** Cut inputs longer than the context instead of refusing them (default false, as OpenAI refuses). */
  truncate?: boolean;
  /** `dimensions` a client may ask for: any width up to the model's (true), a listed few, or none (default). */
  matryoshkaDimensions?: true | number[];
}

export interface RegistryEntry {
  name: string;
  path?: string;
  dtype?: string;
  max_context_tokens?: number;
  chat_template?: string;
  kind?: ModelKind;
  owned_by?: string;
  openai_encoding?: OpenAIEncodingName;
  max_batch?: number;
  pooling?: PoolingMode;
  normalize?: boolean;
  truncate?: boolean;
  matryoshka_dimensions?: boolean | number[];
  categories?: Record<string, string | null>;
  thresholds?: Record<string, number>;
  keep_alive?: number | string;
}

export interface RegistryOptions {
  modelsDir: string;
  registryPath?: string;
  allowList?: readonly string[];
}

export { onnxFileFor } from "./model-files.ts";

/** A model folder that is configured but cannot be served, with the reason (logged at start-up, told to clients). */
export interface RefusedModel {
  id: string;
  reason: string;
}

/** The set of servable models: folders in the models directory, plus registry entries, filtered by the allow list. */
export class ModelRegistry {
  private readonly specs = new Map<string, ModelSpec>();
  private readonly refusals = new Map<string, string>();

  constructor(options: RegistryOptions) {
    for (const spec of scanModelsDir(options.modelsDir)) this.specs.set(spec.id, spec);
    if (options.registryPath) {
      for (const entry of readRegistryFile(options.registryPath)) {
        const spec = specFromEntry(entry, options.registryPath, options.modelsDir, this.specs.get(entry.name));
        this.specs.set(spec.id, spec);
      }
    }
    if (options.allowList && options.allowList.length > 0) {
      const allowed = new Set(options.allowList);
      for (const id of [...this.specs.keys()]) if (!allowed.has(id)) this.specs.delete(id);
    }
    for (const spec of [...this.specs.values()]) {
      const reason = refusalOf(spec.dir, readJson(join(spec.dir, "config.json")), spec.kind, spec.dtype || undefined, spec.explicitKind === true);
      if (reason === undefined) continue;
      this.specs.delete(spec.id);
      this.refusals.set(spec.id, reason);
    }
  }

  list(): ModelSpec[] {
    return [...this.specs.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Lookup by exact id only: a model id never becomes a filesystem path. */
  get(id: string): ModelSpec | undefined {
    return this.specs.get(id);
  }

  /** Folders found or configured that cannot be served, with the reason. */
  refused(): RefusedModel[] {
    return [...this.refusals].map(([id, reason]) => ({ id, reason })).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Why `id` cannot be served, when it names a refused folder. */
  refusal(id: string): string | undefined {
    return this.refusals.get(id);
  }
}

function scanModelsDir(modelsDir: string): ModelSpec[] {
  if (!existsSync(modelsDir)) return [];
  return readdirSync(modelsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(modelsDir, entry.name, "config.json")))
    .map((entry) => defaultSpec(entry.name, resolve(modelsDir, entry.name)));
}

function defaultSpec(id: string, dir: string): ModelSpec {
  const configPath = join(dir, "config.json");
  const config = readJson(configPath);
  const modelType = typeof config.model_type === "string" ? config.model_type : "";
  const family = kindOfFamily(modelType);
  const kind: ModelKind = family === "embeddings" && isSequenceClassifier(config) ? "moderation" : family;
  return {
    id,
    dir,
    kind,
    // "" when the folder has no ONNX file at all: the registry then refuses it with the reason.
    dtype: defaultDtype(dir, config, kind) ?? "",
    dtypeSource: "files",
    ownedBy: "gpt3dev",
    created: Math.floor(statSync(configPath).mtimeMs / 1000),
  };
}

/** An encoder exported with a classification head (e.g. BertForSequenceClassification) is served for moderation. */
function isSequenceClassifier(config: Record<string, unknown>): boolean {
  const architectures = Array.isArray(config.architectures) ? config.architectures : [];
  return architectures.some((a) => typeof a === "string" && a.endsWith("ForSequenceClassification")) && typeof config.id2label === "object";
}

function specFromEntry(entry: RegistryEntry, registryPath: string, modelsDir: string, existing?: ModelSpec): ModelSpec {
  const base = entry.path
    ? isAbsolute(entry.path)
      ? entry.path
      : resolve(dirname(registryPath), entry.path)
    : (existing?.dir ?? resolve(modelsDir, entry.name));
  if (!existsSync(join(base, "config.json"))) {
    throw new Error(`registry entry '${entry.name}': no config.json in ${base}`);
  }
  const spec = existing && existing.dir === base ? { ...existing } : defaultSpec(entry.name, base);
  if (entry.dtype) {
    spec.dtype = entry.dtype;
    spec.dtypeSource = "registry";
  }
  if (entry.kind) {
    spec.kind = entry.kind;
    spec.explicitKind = true;
  }
  if (entry.max_context_tokens) spec.maxContextTokens = entry.max_context_tokens;
  if (entry.chat_template) spec.chatTemplate = entry.chat_template;
  if (entry.owned_by) spec.ownedBy = entry.owned_by;
  if (entry.openai_encoding) spec.openaiEncoding = entry.openai_encoding;
  if (entry.max_batch) spec.maxBatch = entry.max_batch;
  const embedding = embeddingSettings(entry);
  if (embedding) spec.embedding = { ...spec.embedding, ...embedding };
  const moderation = moderationSettingsOf(entry.categories, entry.thresholds, `registry entry '${entry.name}'`);
  if (moderation) spec.moderation = moderation;
  if (entry.keep_alive !== undefined) spec.keepAliveMs = parseKeepAlive(entry.keep_alive);
  return spec;
}

function embeddingSettings(entry: RegistryEntry): EmbeddingSettings | undefined {
  const settings: EmbeddingSettings = {};
  if (entry.pooling !== undefined) settings.pooling = entry.pooling;
  if (entry.normalize !== undefined) settings.normalize = entry.normalize;
  if (entry.truncate !== undefined) settings.truncate = entry.truncate;
  const dims = entry.matryoshka_dimensions;
  if (dims !== undefined && dims !== false) settings.matryoshkaDimensions = dims === true ? true : [...dims].sort((a, b) => b - a);
  return Object.keys(settings).length > 0 ? settings : undefined;
}

/** Accepts `[{name,…}]` or `{models: [{name,…}]}` in JSON or YAML. */
export function readRegistryFile(path: string): RegistryEntry[] {
  const text = readFileSync(path, "utf8");
  const data: unknown = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  const list = Array.isArray(data) ? data : (data as { models?: unknown } | null)?.models;
  if (!Array.isArray(list)) throw new Error(`registry ${path}: expected a list of models or {models: [...]}`);
  return list.map((raw, i) => validateEntry(raw, `${path}: models[${i}]`));
}

function validateEntry(raw: unknown, where: string): RegistryEntry {
  if (typeof raw !== "object" || raw === null) throw new Error(`${where}: expected an object`);
  const entry = raw as Record<string, unknown>;
  if (typeof entry.name !== "string" || !/^[\w.:-]+$/.test(entry.name)) {
    throw new Error(`${where}: 'name' must be a string of letters, digits, '.', '_', ':' or '-'`);
  }
  for (const key of ["path", "dtype", "chat_template", "owned_by"] as const) {
    if (entry[key] !== undefined && typeof entry[key] !== "string") throw new Error(`${where}: '${key}' must be a string`);
  }
  if (typeof entry.dtype === "string" && !isDtype(entry.dtype)) {
    throw new Error(`${where}: unknown dtype '${entry.dtype}' (known: ${DTYPES.join(", ")})`);
  }
  const encoding = entry.openai_encoding;
  if (encoding !== undefined && (typeof encoding !== "string" || !isOpenAIEncodingName(encoding))) {
    throw new Error(`${where}: 'openai_encoding' must be one of ${OPENAI_ENCODINGS.join(", ")}`);
  }
  for (const key of ["max_context_tokens", "max_batch"] as const) {
    const value = entry[key];
    if (value !== undefined && (typeof value !== "number" || !Number.isInteger(value) || value < 1)) {
      throw new Error(`${where}: '${key}' must be a positive integer`);
    }
  }
  if (entry.kind !== undefined && !(MODEL_KINDS as readonly unknown[]).includes(entry.kind)) {
    throw new Error(`${where}: 'kind' must be one of ${MODEL_KINDS.join(", ")}`);
  }
  moderationSettingsOf(entry.categories, entry.thresholds, where);
  if (entry.keep_alive !== undefined) {
    try {
      parseKeepAlive(entry.keep_alive);
    } catch (error) {
      throw new Error(`${where}: 'keep_alive': ${(error as Error).message}`);
    }
  }
  if (entry.pooling !== undefined && !isPoolingMode(entry.pooling)) {
    throw new Error(`${where}: 'pooling' must be one of ${POOLING_MODES.join(", ")}`);
  }
  for (const key of ["normalize", "truncate"] as const) {
    if (entry[key] !== undefined && typeof entry[key] !== "boolean") throw new Error(`${where}: '${key}' must be true or false`);
  }
  const dims = entry.matryoshka_dimensions;
  const positiveInts = Array.isArray(dims) && dims.length > 0 && dims.every((d) => Number.isInteger(d) && d > 0);
  if (dims !== undefined && typeof dims !== "boolean" && !positiveInts) {
    throw new Error(`${where}: 'matryoshka_dimensions' must be true, false or a list of positive integers`);
  }
  return entry as unknown as RegistryEntry;
}


function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

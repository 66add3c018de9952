import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, defaultModelsDir } from "../config.ts";
import { readJson } from "../engine/model-config.ts";
import type { ModelKind } from "../engine/errors.ts";
import { dtypesPresent, onnxFilesFor } from "../engine/model-files.ts";
import { ModelRegistry } from "../engine/registry.ts";
import { countInitializerElements } from "./onnx-parameters.ts";

export const MODELS_HELP = `Usage: gpt3dev models [--json] [--models-dir DIR] [--registry FILE]

Lists the local models: id, kind, family, the dtypes present (with the one served), context length, parameter count
and the size of each dtype's files; folders gpt3dev cannot serve are listed with the reason.`;

export interface LocalModel {
  id: string;
  kind: string;
  family: string;
  /** The dtype the server loads; undefined for a refused folder. */
  servedDtype?: string;
  dtypes: Array<{ dtype: string; bytes: number }>;
  contextLength?: number;
  /** Elements of the weights of the first 8/16/32-bit graph present (4-bit graphs pack two weights per byte). */
  parameters?: number;
  /** Every file in the folder. */
  totalBytes: number;
  refused?: string;
}

const PARAMETER_SOURCES = ["fp32", "fp16", "q8", "int8", "uint8"];
const CONTEXT_KEYS = ["max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length"];

export function describeModel(id: string, dir: string, kind: string, servedDtype: string | undefined, refused?: string): LocalModel {
  const config = existsSync(join(dir, "config.json")) ? readJson(join(dir, "config.json")) : {};
  // Whisper folders hold an encoder and a merged decoder per dtype; every other kind one graph.
  const graphKind: ModelKind = kind === "speech-recognition" ? kind : "text-generation";
  const graphs = (dtype: string) => onnxFilesFor(graphKind, dtype);
  const dtypes = dtypesPresent(dir, graphKind).map((dtype) => ({ dtype, bytes: graphs(dtype).reduce((sum, file) => sum + graphBytes(dir, file), 0) }));
  const source = PARAMETER_SOURCES.find((d) => dtypes.some((x) => x.dtype === d));
  const context = CONTEXT_KEYS.map((k) => config[k]).find((v): v is number => typeof v === "number");
  let parameters: number | undefined;
  try {
    parameters = source ? graphs(source).reduce((sum, file) => sum + countInitializerElements(join(dir, "onnx", file)), 0) : undefined;
  } catch {
    parameters = undefined;
  }
  return {
    id,
    kind,
    family: typeof config.model_type === "string" ? config.model_type : "unknown",
    servedDtype,
    dtypes,
    contextLength: context,
    parameters,
    totalBytes: folderBytes(dir),
    refused,
  };
}

/** The graph and its external data files. */
function graphBytes(dir: string, file: string): number {
  const onnx = join(dir, "onnx");
  return readdirSync(onnx)
    .filter((name) => name === file || name === `${file}_data` || name.startsWith(`${file}_data_`))
    .reduce((sum, name) => sum + statSync(join(onnx, name)).size, 0);
}

function folderBytes(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + folderBytes(join(path, name)), 0);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const count = (n: number | undefined) =>
  n === undefined ? "–" : n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : String(n);

export function formatTable(models: readonly LocalModel[]): string {
  const header = ["id", "kind", "family", "dtypes (served*)", "context", "parameters", "size"];
  const rows = models.map((m) => [
    m.id,
    m.refused ? "refused" : m.kind,
    m.family,
    m.dtypes.map((d) => `${d.dtype}${d.dtype === m.servedDtype ? "*" : ""} ${mb(d.bytes)}`).join(", ") || "none",
    m.contextLength === undefined ? "–" : String(m.contextLength),
    count(m.parameters),
    mb(m.totalBytes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const refusals = models.filter((m) => m.refused).map((m) => `${m.id}: ${m.refused}`);
  return [line(header), ...rows.map(line), ...(refusals.length > 0 ? ["", ...refusals] : [])].join("\n");
}

export function listModels(argv: readonly string[], env: Record<string, string | undefined>, out: (text: string) => void): void {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { json: { type: "boolean" }, "models-dir": { type: "string" }, registry: { type: "string" }, help: { type: "boolean" } },
      strict: true,
    }));
  } catch (error) {
    throw new ConfigError(`models: ${error instanceof Error ? error.message : error}`);
  }
  if (values.help) {
    out(`${MODELS_HELP}\n`);
    return;
  }
  const modelsDir = values["models-dir"] ?? env.GPT3DEV_MODELS_DIR ?? defaultModelsDir();
  const registry = new ModelRegistry({ modelsDir, registryPath: values.registry ?? env.MODEL_REGISTRY_PATH });
  const served = registry.list().map((spec) => describeModel(spec.id, spec.dir, spec.kind, spec.dtype));
  const refused = registry.refused().map((r) => describeModel(r.id, join(modelsDir, r.id), "refused", undefined, r.reason));
  const models = [...served, ...refused].sort((a, b) => a.id.localeCompare(b.id));
  out(values.json ? `${JSON.stringify(models, null, 2)}\n` : `${formatTable(models)}\n`);
}

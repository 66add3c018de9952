import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { ModelKind } from "./errors.ts";

/** transformers.js's dtype names and the file each one loads (its DEFAULT_DTYPE_SUFFIX_MAPPING). */
const DTYPE_FILES = {
  fp32: "model.onnx",
  fp16: "model_fp16.onnx",
  q8: "model_quantized.onnx",
  int8: "model_int8.onnx",
  uint8: "model_uint8.onnx",
  q4: "model_q4.onnx",
  q4f16: "model_q4f16.onnx",
  bnb4: "model_bnb4.onnx",
} as const;

export type Dtype = keyof typeof DTYPE_FILES;
export const DTYPES = Object.keys(DTYPE_FILES) as Dtype[];

/**
 * The order in which a folder's files are preferred when no dtype is set: exact fp32 first (what transformers.js
 * loads by default on CPU), then the 8-bit files ONNX Runtime runs fast on a CPU, then 4-bit, and float16 last (most
 * CPU kernels have no float16 version, so those graphs run through casts).
 */
const DEFAULT_ORDER: readonly Dtype[] = ["fp32", "q8", "int8", "uint8", "q4", "fp16", "q4f16", "bnb4"];

export function isDtype(name: string): name is Dtype {
  return Object.hasOwn(DTYPE_FILES, name);
}

export function onnxFileFor(dtype: string): string {
  if (!isDtype(dtype)) throw new Error(`unknown dtype '${dtype}' (known: ${DTYPES.join(", ")})`);
  return DTYPE_FILES[dtype];
}

/**
 * The files one dtype of a model loads, in onnx/: one graph, or for Whisper its encoder and merged decoder with the
 * same suffix (encoder_model_quantized.onnx + decoder_model_merged_quantized.onnx, as transformers.js names them).
 */
export function onnxFilesFor(kind: ModelKind, dtype: string): string[] {
  const file = onnxFileFor(dtype);
  if (kind !== "speech-recognition") return [file];
  const suffix = file.slice("model".length);
  return [`encoder_model${suffix}`, `decoder_model_merged${suffix}`];
}

/**
 * A graph file and the external data files beside it in `onnxDir` (`model.onnx_data`, then `model.onnx_data_1`, … when
 * transformers.js splits the data), names relative to that folder; only files that exist.
 */
export function graphWithData(onnxDir: string, file: string): string[] {
  const names = [file, `${file}_data`];
  for (let part = 1; existsSync(join(onnxDir, `${file}_data_${part}`)); part++) names.push(`${file}_data_${part}`);
  return names.filter((name) => existsSync(join(onnxDir, name)));
}

/** The dtypes whose files are all in the folder's onnx/ directory. */
export function dtypesPresent(dir: string, kind: ModelKind = "text-generation"): Dtype[] {
  return DTYPES.filter((dtype) => onnxFilesFor(kind, dtype).every((file) => existsSync(join(dir, "onnx", file))));
}

/**
 * The dtype to serve when none is configured: `transformers.js_config.dtype` from config.json when its file is there,
 * else the first present in DEFAULT_ORDER; undefined when the folder has none of these files.
 */
export function defaultDtype(dir: string, config: Record<string, unknown>, kind: ModelKind = "text-generation"): Dtype | undefined {
  const present = dtypesPresent(dir, kind);
  const own = (config["transformers.js_config"] as { dtype?: unknown } | undefined)?.dtype;
  if (typeof own === "string" && isDtype(own) && present.includes(own)) return own;
  return DEFAULT_ORDER.find((dtype) => present.includes(dtype));
}

/** Decoder families whose Optimum exports follow the contract src/engine/decoder.ts feeds (see the README table). */
export const DECODER_FAMILIES = new Set([
  "gpt2", "gpt_neox", "gptj", "llama", "mistral", "qwen2", "qwen3", "phi", "phi3", "gemma", "gemma2", "gemma3_text",
  "granite", "olmo", "olmo2", "stablelm", "starcoder2", "smollm3", "cohere", "helium", "exaone",
]);
export const ENCODER_FAMILIES = new Set(["bert", "roberta", "xlm-roberta", "distilbert", "mpnet", "nomic_bert", "modernbert", "e5"]);
/** Speech recognition: Whisper exports (encoder_model.onnx + decoder_model_merged.onnx), run through transformers.js. */
export const SPEECH_RECOGNITION_FAMILIES = new Set(["whisper", "lite-whisper"]);
/** Text to speech: one-graph text-to-waveform exports (VITS, as MMS-TTS ships), run through transformers.js. */
export const TEXT_TO_SPEECH_FAMILIES = new Set(["vits"]);

const FAMILIES_OF_KIND: Record<ModelKind, ReadonlySet<string>> = {
  "text-generation": DECODER_FAMILIES,
  embeddings: ENCODER_FAMILIES,
  moderation: ENCODER_FAMILIES,
  "speech-recognition": SPEECH_RECOGNITION_FAMILIES,
  "text-to-speech": TEXT_TO_SPEECH_FAMILIES,
};

/** The kind a model family is served as when the registry does not say. */
export function kindOfFamily(modelType: string): ModelKind {
  for (const kind of ["embeddings", "speech-recognition", "text-to-speech"] as const) if (FAMILIES_OF_KIND[kind].has(modelType)) return kind;
  return "text-generation";
}

/**
 * Why gpt3dev cannot serve this folder's format, judged from its config and file names before anything loads;
 * undefined when it can try. Damaged or missing files (a truncated graph, no tokenizer.json) are load failures
 * instead, retried on the next request so a repaired folder serves without a restart.
 * `kind` set explicitly (registry) lets an unknown family through to the load, where the graph's inputs decide.
 */
export function refusalOf(dir: string, config: Record<string, unknown>, kind: ModelKind, dtype: string | undefined, explicitKind: boolean): string | undefined {
  const modelType = typeof config.model_type === "string" ? config.model_type : "";
  const speech = kind === "speech-recognition" || kind === "text-to-speech";
  if (!speech && (config.vision_config !== undefined || config.audio_config !== undefined)) {
    return `'${modelType}' takes images or audio; gpt3dev serves text models, Whisper speech recognition and VITS speech`;
  }
  if (!speech && config.is_encoder_decoder === true) return `'${modelType}' is an encoder-decoder model; gpt3dev serves decoder-only text generation, encoders for embeddings and Whisper for speech recognition`;
  const families = FAMILIES_OF_KIND[kind];
  if (!explicitKind && !families.has(modelType)) {
    const served = Object.entries(FAMILIES_OF_KIND).map(([k, f]) => `${k}: ${[...f].join(", ")}`);
    return `model_type '${modelType || "(none)"}' is not a family gpt3dev serves (${served.join("; ")})`;
  }
  if (dtype === undefined) {
    const onnx = existsSync(join(dir, "onnx")) ? readdirSync(join(dir, "onnx")).filter((f) => f.endsWith(".onnx")) : [];
    const expected = DTYPES.map((d) => onnxFilesFor(kind, d).join(" + "));
    return `no ONNX file transformers.js would load in onnx/ (expected one of ${expected.join(", ")}; found ${onnx.join(", ") || "none"})`;
  }
  const missing = onnxFilesFor(kind, dtype).filter((file) => !existsSync(join(dir, "onnx", file)));
  if (missing.length > 0) {
    const which = missing.length > 1 ? "which are" : "which is";
    return `dtype ${dtype} needs ${missing.map((f) => `onnx/${f}`).join(" and ")}, ${which} missing (present: ${dtypesPresent(dir, kind).join(", ") || "none"})`;
  }
  return undefined;
}

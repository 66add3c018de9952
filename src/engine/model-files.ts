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

/** The dtypes whose file is in the folder's onnx/ directory. */
export function dtypesPresent(dir: string): Dtype[] {
  return DTYPES.filter((dtype) => existsSync(join(dir, "onnx", DTYPE_FILES[dtype])));
}

/**
 * The dtype to serve when none is configured: `transformers.js_config.dtype` from config.json when its file is there,
 * else the first present in DEFAULT_ORDER; undefined when the folder has none of these files.
 */
export function defaultDtype(dir: string, config: Record<string, unknown>): Dtype | undefined {
  const present = dtypesPresent(dir);
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

/**
 * Why gpt3dev cannot serve this folder's format, judged from its config and file names before anything loads;
 * undefined when it can try. Damaged or missing files (a truncated graph, no tokenizer.json) are load failures
 * instead, retried on the next request so a repaired folder serves without a restart.
 * `kind` set explicitly (registry) lets an unknown family through to the load, where the graph's inputs decide.
 */
export function refusalOf(dir: string, config: Record<string, unknown>, kind: ModelKind, dtype: string | undefined, explicitKind: boolean): string | undefined {
  const modelType = typeof config.model_type === "string" ? config.model_type : "";
  if (config.vision_config !== undefined || config.audio_config !== undefined) {
    return `'${modelType}' takes images or audio; gpt3dev serves text models only`;
  }
  if (config.is_encoder_decoder === true) return `'${modelType}' is an encoder-decoder model; gpt3dev serves decoder-only text generation and encoders for embeddings`;
  const families = kind === "text-generation" ? DECODER_FAMILIES : ENCODER_FAMILIES;
  if (!explicitKind && !families.has(modelType)) {
    return `model_type '${modelType || "(none)"}' is not a family gpt3dev serves (text generation: ${[...DECODER_FAMILIES].join(", ")}; embeddings and moderation: ${[...ENCODER_FAMILIES].join(", ")})`;
  }
  if (dtype === undefined) {
    const onnx = existsSync(join(dir, "onnx")) ? readdirSync(join(dir, "onnx")).filter((f) => f.endsWith(".onnx")) : [];
    return `no ONNX file transformers.js would load in onnx/ (expected one of ${Object.values(DTYPE_FILES).join(", ")}; found ${onnx.join(", ") || "none"})`;
  }
  const file = DTYPE_FILES[dtype as Dtype];
  if (!existsSync(join(dir, "onnx", file))) {
    return `dtype ${dtype} needs onnx/${file}, which is missing (present: ${dtypesPresent(dir).join(", ") || "none"})`;
  }
  return undefined;
}

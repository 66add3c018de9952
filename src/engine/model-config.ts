import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The facts about a decoder that the generation loop needs, read from Hugging Face's config files. */
export interface DecoderConfig {
  modelType: string;
  numLayers: number;
  /** Query heads. */
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  contextLength: number;
  eosIds: number[];
  /**
   * Added to every position id: Gemma 3 exports get positions counted from 1 (transformers.js feeds them so, the
   * `start_index` of its create_position_ids), every other family from 0. Rotary attention depends on position
   * differences only, so this keeps the numbers equal to transformers.js's rather than changing tokens.
   */
  positionOffset: number;
  /**
   * Every layer attends over every earlier position with a plain softmax (no sliding window, no ALiBi or other position
   * bias added to the scores, no soft-capping): the families whose attention the load-time GroupQueryAttention rewrite
   * may replace (src/runtime/graph-rewrite/shared-kv-attention.ts).
   */
  fullCausalAttention: boolean;
}

/** Model types whose exported attention is softmax(q kᵀ · scale + mask) v in every layer, unless a sliding window is set. */
const FULL_ATTENTION_TYPES = new Set(["gpt2", "llama", "mistral", "qwen2", "qwen3", "phi3", "gpt_neox", "gptj", "granite", "olmo", "olmo2", "stablelm", "starcoder2"]);

function fullCausal(config: Json, modelType: string, contextLength: number): boolean {
  if (!FULL_ATTENTION_TYPES.has(modelType)) return false;
  const window = config.sliding_window;
  if (typeof window === "number" && config.use_sliding_window !== false && window < contextLength) return false;
  const layers = config.layer_types;
  return !(Array.isArray(layers) && layers.some((t) => t !== "full_attention"));
}

const POSITIONS_FROM_ONE = new Set(["gemma3_text", "gemma3", "paligemma"]);

type Json = Record<string, unknown>;

/** A JSON config file of a model folder; a missing optional file reads as empty. */
export function readJson(path: string): Json {
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Json) : {};
}

function firstNumber(obj: Json, keys: readonly string[]): number | undefined {
  for (const key of keys) {
    const value = obj[key];
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  return undefined;
}

function idList(value: unknown): number[] {
  if (typeof value === "number") return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === "number");
  return [];
}

export function readDecoderConfig(dir: string): DecoderConfig {
  const config = readJson(join(dir, "config.json"));
  const generation = readJson(join(dir, "generation_config.json"));
  const require = (keys: readonly string[]): number => {
    const value = firstNumber(config, keys);
    if (value === undefined) throw new Error(`config.json has none of ${keys.join(", ")}`);
    return value;
  };
  const heads = require(["num_attention_heads", "n_head", "num_heads"]);
  const hidden = require(["hidden_size", "n_embd", "d_model"]);
  const eosIds = [...new Set([...idList(generation.eos_token_id), ...idList(config.eos_token_id)])];
  const modelType = typeof config.model_type === "string" ? config.model_type : "unknown";
  const contextLength = require(["max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length"]);
  return {
    modelType,
    positionOffset: POSITIONS_FROM_ONE.has(modelType) ? 1 : 0,
    numLayers: require(["num_hidden_layers", "n_layer", "num_layers"]),
    heads,
    kvHeads: firstNumber(config, ["num_key_value_heads"]) ?? heads,
    headDim: firstNumber(config, ["head_dim"]) ?? hidden / heads,
    vocabSize: require(["vocab_size"]),
    contextLength,
    eosIds,
    fullCausalAttention: fullCausal(config, modelType, contextLength),
  };
}

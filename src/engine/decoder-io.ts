import type { Session } from "../runtime/session.ts";
import type { DirectSession } from "../runtime/direct-session.ts";
import { isFloatType, tensorInfo, type FloatType, type TensorInfo } from "../runtime/tensor-dtype.ts";
import { UnsupportedFormatError } from "./errors.ts";
import { KvLayout } from "./kv-block.ts";
import type { DecoderConfig } from "./model-config.ts";

/** Graph inputs a decoder may have beyond the cache; any other input makes the export one gpt3dev cannot feed. */
const KNOWN_INPUTS = new Set(["input_ids", "attention_mask", "position_ids", "num_logits_to_keep", "logits_to_keep"]);
const PAST = /^past_key_values\.(\d+)\.(key|value)$/;

/** What a decoder session declares about its inputs and outputs, checked once when it opens. */
export interface DecoderIo {
  cache: KvLayout;
  /** float32, or float16 for fp16 / q4f16 exports. */
  logitsType: FloatType;
  /** Entries per position of `logits` (the graph's own last dimension when it is fixed, else the config's vocabulary). */
  logitsWidth: number;
  /** The input that limits logits to the last positions (Optimum's `num_logits_to_keep`, newer `logits_to_keep`). */
  logitsToKeep?: string;
  hasPositionIds: boolean;
}

/**
 * Reads the I/O contract from the session's metadata; throws UnsupportedFormatError naming what does not fit.
 * `fedInput`: one more input the caller fills (token embeddings read by the runtime).
 */
export function readDecoderIo(session: Session | DirectSession, config: DecoderConfig, fedInput?: string): DecoderIo {
  const { inputs, outputs } = tensorInfo(session as Session);
  for (const name of ["input_ids", "attention_mask"]) {
    if (!inputs.has(name)) throw new UnsupportedFormatError(`the ONNX graph has no '${name}' input (not a text decoder export)`);
  }
  const unknown = [...inputs.keys()].filter((name) => !KNOWN_INPUTS.has(name) && !PAST.test(name) && name !== fedInput);
  if (unknown.length > 0) throw new UnsupportedFormatError(`the ONNX graph has inputs gpt3dev cannot feed: ${unknown.join(", ")}`);
  const logits = outputs.get("logits");
  if (!logits) throw new UnsupportedFormatError("the ONNX graph has no 'logits' output");
  if (!isFloatType(logits.type)) throw new UnsupportedFormatError(`'logits' are ${logits.type}, not float32 or float16`);
  const past = [...inputs].filter(([name]) => PAST.test(name));
  if (past.length === 0) throw new UnsupportedFormatError("the ONNX graph has no past_key_values inputs (exported without a cache)");
  for (const name of inputs.keys()) {
    if (PAST.test(name) && !outputs.has(name.replace(/^past_key_values/, "present"))) {
      throw new UnsupportedFormatError(`input '${name}' has no matching present output`);
    }
  }
  const first = past[0]![1];
  const types = new Set(past.map(([, info]) => info.type));
  if (types.size !== 1 || !isFloatType(first.type)) {
    throw new UnsupportedFormatError(`past_key_values must all be float32 or all float16, found ${[...types].join(", ")}`);
  }
  const [kvHeads, headDim] = [dim(first, 1, config.kvHeads), dim(first, 3, config.headDim)];
  if (first.shape.length !== 4) throw new UnsupportedFormatError(`past_key_values have ${first.shape.length} dimensions, expected 4 [batch, heads, past, head_dim]`);
  const logitsToKeep = ["num_logits_to_keep", "logits_to_keep"].find((name) => inputs.has(name));
  return {
    cache: new KvLayout(past.map(([name]) => name), kvHeads, headDim, first.type as FloatType),
    logitsType: logits.type as FloatType,
    logitsWidth: dim(logits, 2, config.vocabSize),
    logitsToKeep,
    hasPositionIds: inputs.has("position_ids"),
  };
}

/** A fixed dimension from the graph, else the config's value (exports may leave heads or head size symbolic). */
function dim(info: TensorInfo, axis: number, fallback: number): number {
  const value = info.shape[axis];
  return typeof value === "number" && value > 0 ? value : fallback;
}

import { ort } from "./onnx.ts";
import { forBinding } from "./tensor-dtype.ts";

export type Session = ort.InferenceSession;
export type Tensor = ort.Tensor;

export type GraphOptimizationLevel = "disabled" | "basic" | "extended" | "all";

export interface SessionSettings {
  /** Intra-op threads; 0 lets ONNX Runtime pick (one per core). */
  intraOpThreads?: number;
  /** Graph rewrites applied when the session loads (default "all"). */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** Folder for decoder graphs rewritten at load time (src/runtime/graph-rewrite/); unset: files open as they are. */
  cacheDir?: string;
  /** false: no pre-packed copies of matrix weights (`session.disable_prepacking`); default true. */
  prepackWeights?: boolean;
  /**
   * Intra-op threads spin while a run is in flight (waiting for the next parallel section without sleeping) and stop
   * when it returns (`session.force_spinning_stop`), so an idle server burns no CPU. Default off: measured on a shared
   * 2-core machine, spinning threads lost their time slices to each other (0.54× the speed); on a quiet dedicated
   * box spinning is the faster one (see bench/README.md).
   */
  spinning?: boolean;
  /**
   * false: ONNX Runtime logs errors only while this session loads and runs. For graphs rewritten on purpose in a way
   * ORT warns about (a weight declared as a graph input so that it is neither folded nor pre-packed).
   */
  warnings?: boolean;
  /**
   * Decoder sessions only: run through ONNX Runtime's C API so that outputs (the KV cache, logits) are written
   * straight into the engine's buffers (src/runtime/direct-session.ts); false: onnxruntime-node, which copies every
   * output after each run. Default true; falls back to onnxruntime-node where the C API cannot be loaded.
   */
  inPlaceOutputs?: boolean;
  /** ONNX Runtime's CPU memory arena (default on; see createSession). */
  memoryArena?: boolean;
  /**
   * Decoder graphs only (with `cacheDir`): rewrite self-attention into ONNX Runtime's GroupQueryAttention, whose KV
   * cache is a buffer with room that a decode step extends in place (src/runtime/graph-rewrite/shared-kv-attention.ts).
   * Default true; false keeps the attention as the file computes it.
   */
  fusedAttention?: boolean;
  /**
   * Decoder graphs only (with `cacheDir`, pre-packing on and the C API): ONNX Runtime's pre-packed weights are saved
   * once in the cache and mapped from there by every later load (src/runtime/packed-weights.ts). Default true; false
   * packs them at every load into the process's own memory.
   */
  packedWeightsFile?: boolean;
  /**
   * Decoder graphs only (with `cacheDir`): an fp16 file's matrix weights stay fp16 in memory and are widened to fp32
   * at each run (src/runtime/graph-rewrite/half-weights.ts): about half the memory, slower decoding.
   * Default false: ONNX Runtime widens them once at load.
   */
  halfWeights?: boolean;
  /**
   * Decoder graphs only (with `cacheDir`): a tied LM head (the embedding table read transposed) is left as the file
   * has it, and ONNX Runtime keeps a pre-packed copy of the table for it: faster decoding, the table held twice.
   * Default false: the head multiplies by the table itself (src/runtime/graph-rewrite/rewrites.ts).
   */
  packedHead?: boolean;
  /**
   * Decoder graphs only (with `cacheDir`): token embeddings are rows read from the rewritten model's data file and fed
   * as an input (src/runtime/graph-rewrite/embedding-rows.ts), so the table does not fill into the process's memory
   * as tokens read it. Default true; false leaves the graph's own lookup in the mapped table.
   */
  embeddingRows?: boolean;
}

/**
 * Opens an ONNX file with options suited to a server: shapes change every step (batch rows, cache width), so memory
 * patterns, which only pay off for repeated identical shapes, stay off; idle threads must not spin (a server on a
 * small VDS would burn a core between requests). The CPU arena stays on: without it every step's outputs (the whole
 * KV cache) come fresh from the C heap, and decoding at an 896-token context ran at less than half the speed (int8 bench
 * model, 5.2 vs 2.1 tokens/s side by side on an idle machine), although RSS after a large prefill was lower
 * (bench/README.md, memory section).
 */
export async function createSession(path: string, settings: SessionSettings = {}): Promise<Session> {
  return ort.InferenceSession.create(path, sessionOptions(settings));
}

/** The options createSession opens a file with (also given to transformers.js for the models it opens itself). */
export function sessionOptions(settings: SessionSettings = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ["cpu"],
    graphOptimizationLevel: settings.graphOptimizationLevel ?? "all",
    executionMode: "sequential",
    intraOpNumThreads: settings.intraOpThreads ?? 0,
    interOpNumThreads: 1,
    enableMemPattern: false,
    enableCpuMemArena: settings.memoryArena !== false,
    ...(settings.warnings === false ? { logSeverityLevel: 3 as const } : {}),
    extra: nest(sessionConfigEntries(settings)),
  };
}

/** ONNX Runtime session configuration entries (`session.*` keys) for these settings, flat, as the C API takes them. */
export function sessionConfigEntries(settings: SessionSettings = {}): Record<string, string> {
  return {
    "session.intra_op.allow_spinning": settings.spinning ? "1" : "0",
    "session.inter_op.allow_spinning": "0",
    ...(settings.spinning ? { "session.force_spinning_stop": "1" } : {}),
    ...(settings.prepackWeights === false ? { "session.disable_prepacking": "1" } : {}),
  };
}

/** Dotted keys as the nested object onnxruntime-node's `extra` option flattens back into them. */
function nest(entries: Record<string, string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entries)) {
    const parts = key.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]!] = value;
  }
  return root;
}

export function int64Tensor(values: readonly number[], dims: readonly number[]): Tensor {
  return int64TensorOf(BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

/** An int64 tensor over `data` as it is (no conversion from numbers). */
export function int64TensorOf(data: BigInt64Array, dims: readonly number[]): Tensor {
  return new ort.Tensor("int64", data, dims);
}

export function floatTensor(values: Float32Array, dims: readonly number[]): Tensor {
  return new ort.Tensor("float32", values, dims);
}

export function emptyFloatTensor(dims: readonly number[]): Tensor {
  return floatTensor(new Float32Array(0), dims);
}

/** A CPU tensor of the given element type over `data` (e.g. a copy of another tensor's data). */
export function tensorLike(type: Tensor["type"], data: Float32Array | Uint16Array, dims: readonly number[]): Tensor {
  return forBinding(new ort.Tensor(type as "float32", data as Float32Array, dims));
}

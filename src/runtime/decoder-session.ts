import { join } from "node:path";
import { prepareDecoderFile } from "./graph-rewrite/rewrite-cache.ts";
import type { RewriteName } from "./graph-rewrite/rewrites.ts";
import type { AttentionShape } from "./graph-rewrite/shared-kv-attention.ts";
import { DirectSession } from "./direct-session.ts";
import { EmbeddingRows } from "./embedding-rows.ts";
import { packedGraph } from "./packed-weights.ts";
import { createSession, type Session, type SessionSettings } from "./session.ts";

/** Bytes a tied head's packed copy adds (rewrite-cache.ts), for the engine's choice of form. */
export { tiedHeadBytes } from "./graph-rewrite/rewrite-cache.ts";

export interface DecoderSession {
  /** A DirectSession (outputs written in place) unless `settings.inPlaceOutputs` is false or the C API is unavailable. */
  session: Session | DirectSession;
  /** Load-time rewrites the opened graph carries (see src/runtime/graph-rewrite/rewrites.ts). */
  rewrites: RewriteName[];
  /** With the embedding-rows rewrite: what fills the graph's `token_embeddings` input from the token ids. */
  embeddings?: EmbeddingRows;
}

/**
 * Opens a decoder's ONNX file, rewritten first when `settings.cacheDir` is set: the tied LM head multiplies by the
 * embedding table itself instead of a folded transposed copy (unless `settings.packedHead`), logits are computed only
 * for the positions the caller keeps (`num_logits_to_keep`), token embeddings are rows read from the data file
 * (unless `settings.embeddingRows` is false), and with `attention` (the head count) self-attention runs as
 * GroupQueryAttention over a cache extended in place unless `settings.fusedAttention` is false. A cache problem never
 * stops the load: the file then opens as it is.
 */
export async function openDecoderSession(path: string, settings: SessionSettings, attention?: AttentionShape): Promise<DecoderSession> {
  if (!settings.cacheDir) {
    if (settings.halfWeights) console.warn("[gpt3dev] fp16 weights are widened at load: keeping them fp16 needs a cache folder (--cache-dir)");
    return { session: await open(path, settings), rewrites: [] };
  }
  const fused = settings.fusedAttention !== false ? attention : undefined;
  const rows = settings.embeddingRows !== false;
  const prepared = prepareDecoderFile(path, join(settings.cacheDir, "graphs"), fused, settings.halfWeights === true, settings.packedHead === true, rows);
  if (prepared.warning) console.warn(`[gpt3dev] ${prepared.warning}`);
  // ORT warns that the weights these rewrites read are graph inputs, and that an embedding table no node reads any
  // more is dropped: that is the point of the rewrites.
  const warnings = !prepared.rewrites.some((r) => r === "tied-lm-head" || r === "half-weights" || r === "embedding-rows");
  const embeddings = prepared.embeddings && new EmbeddingRows(prepared.embeddings);
  let session: Session | DirectSession;
  try {
    session = await openPacked(prepared.path, settings.cacheDir, { ...settings, warnings });
  } catch (error) {
    embeddings?.close();
    throw error;
  }
  if (prepared.rewrites.includes("shared-kv-attention") && !toldAttention) {
    toldAttention = true;
    const where = session instanceof DirectSession ? "a KV cache each step extends in place" : "a KV cache copied every step";
    console.info(`[gpt3dev] text model attention runs as ONNX Runtime's GroupQueryAttention over ${where}`);
  }
  return { session, rewrites: prepared.rewrites, ...(embeddings ? { embeddings } : {}) };
}

/**
 * Opens `graph` from its copy with pre-packed weights in the cache (saved on first use) where that applies; the graph
 * itself when the copy cannot be made or opened.
 */
async function openPacked(graph: string, cacheDir: string, settings: SessionSettings): Promise<Session | DirectSession> {
  if (!packsToFile(settings)) return open(graph, settings);
  const packed = packedGraph(graph, join(cacheDir, "packed"), settings);
  if (packed.warning) console.warn(`[gpt3dev] ${packed.warning}`);
  if (packed.packed) {
    try {
      const session = await open(packed.path, settings);
      if (!toldPacked) console.info("[gpt3dev] text models map their pre-packed weights from the cache folder");
      toldPacked = true;
      return session;
    } catch (error) {
      console.warn(`[gpt3dev] pre-packed weights in ${packed.path} could not be opened (${error instanceof Error ? error.message : String(error)}); packing them again in memory`);
    }
  }
  return open(graph, settings);
}

/** Pre-packed weights go to a file only where they are packed at all and the session opens through the C API. */
function packsToFile(settings: SessionSettings): boolean {
  return settings.packedWeightsFile !== false && settings.prepackWeights !== false && settings.inPlaceOutputs !== false && DirectSession.available() === true;
}

let told = false;
let toldAttention = false;
let toldPacked = false;

/** Opens through the C API unless told not to or it cannot be loaded; says once per worker which path runs. */
async function open(path: string, settings: SessionSettings): Promise<Session | DirectSession> {
  if (settings.inPlaceOutputs === false) return createSession(path, settings);
  const available = DirectSession.available();
  const first = !told;
  told = true;
  if (available === true) {
    if (first) console.info("[gpt3dev] text models write their KV cache in place (ONNX Runtime C API)");
    return DirectSession.open(path, settings);
  }
  if (first) console.warn(`[gpt3dev] decoder outputs are copied after every step: ${available.message}`);
  return createSession(path, settings);
}

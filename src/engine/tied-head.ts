import { tiedHeadBytes } from "../runtime/decoder-session.ts";
import type { Fp16Weights } from "./fp16-weights.ts";

/**
 * What a text model's tied LM head does (GPT-2 style: the head multiplies by the embedding table, transposed):
 * `packed` leaves ONNX Runtime a pre-packed copy of the table for the head (the fastest decoding), `shared` has the
 * head multiply by the table itself (GPT-2 small in fp32 decodes one stream at 0.9–1.0× the speed, several as fast).
 * Since token embeddings are rows the runtime reads from the data file (src/runtime/graph-rewrite/embedding-rows.ts),
 * the packed copy is the only one in memory: both forms hold the table once, so `auto` packs.
 */
export const TIED_HEAD_MODES = ["auto", "packed", "shared"] as const;
export type TiedHead = (typeof TIED_HEAD_MODES)[number];

/** How text models trade memory for decoding speed: what their fp16 weights and their tied heads do (default auto). */
export interface WeightCopies {
  fp16Weights?: Fp16Weights;
  tiedHead?: TiedHead;
}

/** Whether a model's tied head gets a packed copy: `tableBytes` its tied tables (0: it has none). */
export function packsTiedHead(mode: TiedHead, tableBytes: number): boolean {
  return tableBytes > 0 && mode !== "shared";
}

/** The tied head's form for the decoder file at `path`; undefined when it has no tied head. */
export function tiedHeadFor(mode: TiedHead, path: string): "packed" | "shared" | undefined {
  const tableBytes = tiedHeadBytes(path);
  if (tableBytes === 0) return undefined;
  return packsTiedHead(mode, tableBytes) ? "packed" : "shared";
}

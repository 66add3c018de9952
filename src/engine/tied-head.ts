import { tiedHeadBytes } from "../runtime/decoder-session.ts";
import { AUTO_WIDEN_SHARE, freeMemoryNow, onnxBytes, type Fp16Weights } from "./fp16-weights.ts";

/**
 * What a text model's tied LM head costs (GPT-2 style: the head multiplies by the embedding table, transposed):
 * `packed` leaves ONNX Runtime a pre-packed copy of the table for the head (the table twice in memory, the fastest
 * decoding), `shared` has the head multiply by the table itself (once in memory; GPT-2 small in fp32 decodes one
 * stream at 0.9–1.0× the speed, several as fast), `auto` packs unless the model with that copy would take more than half the memory free as it loads.
 */
export const TIED_HEAD_MODES = ["auto", "packed", "shared"] as const;
export type TiedHead = (typeof TIED_HEAD_MODES)[number];

/** How text models trade memory for decoding speed: what their fp16 weights and their tied heads do (default auto). */
export interface WeightCopies {
  fp16Weights?: Fp16Weights;
  tiedHead?: TiedHead;
}

/** Whether a model's tied head gets a packed copy: `fileBytes` its ONNX file, `tableBytes` its tied tables, `memoryBytes` the memory free. */
export function packsTiedHead(mode: TiedHead, fileBytes: number, tableBytes: number, memoryBytes: number): boolean {
  if (tableBytes === 0 || mode === "shared") return false;
  return mode === "packed" || fileBytes + tableBytes <= AUTO_WIDEN_SHARE * memoryBytes;
}

/** The tied head's form for the decoder file at `path` against the memory free now; undefined when it has no tied head. */
export function tiedHeadFor(mode: TiedHead, path: string): "packed" | "shared" | undefined {
  const tableBytes = tiedHeadBytes(path);
  if (tableBytes === 0) return undefined;
  return packsTiedHead(mode, onnxBytes(path), tableBytes, mode === "auto" ? freeMemoryNow() : 0) ? "packed" : "shared";
}

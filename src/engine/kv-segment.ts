import { tensorLike, type Tensor } from "../runtime/session.ts";
import type { KvBlock, PackSource } from "./decoder.ts";
import type { KvSegment } from "./prefix-cache.ts";

type KvArray = Float32Array | Uint16Array;

/** Some consecutive positions of one sequence's cache, copied out of a batch: `[heads, positions, headDim]` per tensor. */
export interface StoredKv extends KvSegment {
  readonly positions: number;
  readonly tensors: ReadonlyMap<string, { type: Tensor["type"]; heads: number; headDim: number; data: KvArray }>;
}

/**
 * Copies positions [start, end) of one row's real positions (0 = the row's first real position, left padding skipped)
 * into a segment of its own, in each tensor's own element type.
 */
export function copyKvOut(source: PackSource, start: number, end: number): StoredKv {
  const { kv, row, length } = source;
  if (start < 0 || end > length || start >= end) throw new Error(`cannot copy positions ${start}..${end} of ${length}`);
  const positions = end - start;
  const tensors = new Map<string, { type: Tensor["type"]; heads: number; headDim: number; data: KvArray }>();
  let bytes = 0;
  for (const [name, tensor] of Object.entries(kv.tensors)) {
    const [, heads, width, headDim] = tensor.dims as [number, number, number, number];
    const src = tensor.data as KvArray;
    const data = new (src.constructor as new (n: number) => KvArray)(heads * positions * headDim);
    const first = width - length + start;
    for (let h = 0; h < heads; h++) {
      const from = ((row * heads + h) * width + first) * headDim;
      data.set(src.subarray(from, from + positions * headDim), h * positions * headDim);
    }
    tensors.set(name, { type: tensor.type, heads, headDim, data });
    bytes += data.byteLength;
  }
  return { positions, tensors, bytes };
}

/** A one-row cache holding the first `length` positions of consecutive segments. */
export function copyKvIn(segments: readonly StoredKv[], length: number): KvBlock {
  const first = segments[0];
  if (!first) throw new Error("no segments to copy in");
  const tensors: Record<string, Tensor> = {};
  for (const [name, { type, heads, headDim, data: sample }] of first.tensors) {
    const out = new (sample.constructor as new (n: number) => KvArray)(heads * length * headDim);
    let at = 0;
    for (const segment of segments) {
      if (at >= length) break;
      const take = Math.min(segment.positions, length - at);
      const src = segment.tensors.get(name)!.data;
      for (let h = 0; h < heads; h++) {
        const from = h * segment.positions * headDim;
        out.set(src.subarray(from, from + take * headDim), (h * length + at) * headDim);
      }
      at += take;
    }
    if (at !== length) throw new Error(`segments hold ${at} positions, ${length} asked`);
    tensors[name] = tensorLike(type, out, [1, heads, length, headDim]);
  }
  return { rows: 1, width: length, tensors };
}

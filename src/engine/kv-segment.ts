import { floatArray, floatTensorOf, type FloatType } from "../runtime/tensor-dtype.ts";
import type { Tensor } from "../runtime/session.ts";
import { bitsView, kvMemory, kvStride, type KvBlock, type PackSource } from "./kv-block.ts";
import type { KvSegment, KvStore } from "./prefix-cache.ts";

/**
 * Some consecutive positions of one sequence's cache, left where they are: positions [start, start + positions) of
 * the real positions of row `source.row` (0 = the row's first real position, left padding skipped). Nothing is
 * copied: a block's tensors are never written after the run that made them (every run returns new ones), so a view
 * stays valid as long as it is held. Its store is the whole block, counted once however many views refer to it.
 */
export interface KvView extends KvSegment {
  readonly source: PackSource;
  readonly start: number;
  readonly positions: number;
}

const stores = new WeakMap<object, KvStore>();

/**
 * The store of a block: every view of the same memory shares it (a block and the wider block a step extended it into
 * in place are one store), and it counts the block's every tensor.
 */
function storeOf(kv: KvBlock): KvStore {
  const key = kvMemory(kv) ?? kv;
  let store = stores.get(key);
  if (!store) {
    store = { bytes: Object.values(kv.tensors).reduce((n, t) => n + (t.data as Float32Array | Uint16Array).byteLength, 0) };
    stores.set(key, store);
  }
  return store;
}

/** Positions [start, end) of `source`'s real positions, as a view of its block. */
export function viewKv(source: PackSource, start: number, end: number): KvView {
  if (start < 0 || end > source.length || start >= end) throw new Error(`cannot view positions ${start}..${end} of ${source.length}`);
  if (source.length > source.kv.width) throw new Error(`row holds ${source.length} positions in a block ${source.kv.width} wide`);
  return { store: storeOf(source.kv), source, start, positions: end - start };
}

/**
 * A one-row cache holding the first `length` positions of consecutive views. When they are exactly the whole of a
 * one-row block (a chat's next turn resuming after its full history), that block is returned as it is: no copy.
 * Otherwise their positions are copied, one copy per run of views of the same row, in the tensors' own element type.
 */
export function kvFromViews(views: readonly KvView[], length: number): KvBlock {
  const first = views[0];
  if (!first) throw new Error("no views to restore");
  const held = views.reduce((n, v) => n + v.positions, 0);
  if (held < length) throw new Error(`views hold ${held} positions, ${length} asked`);
  const { kv } = first.source;
  if (kv.rows === 1 && kv.width === length && first.source.length === length && first.start === 0 && views.every((v) => v.source.kv === kv)) {
    return kv;
  }
  const runs = copyRuns(views, length);
  const tensors: Record<string, Tensor> = {};
  for (const [name, sample] of Object.entries(kv.tensors)) {
    const [, heads, , headDim] = sample.dims as [number, number, number, number];
    const type = sample.type as FloatType;
    const data = floatArray(type, heads * length * headDim);
    const out = bitsView(data);
    for (const run of runs) {
      const { kv: block, row, length: rowLength } = run.source;
      const src = bitsView(block.tensors[name]!.data);
      const stride = kvStride(block);
      const first = block.width - rowLength + run.start;
      for (let h = 0; h < heads; h++) {
        const from = ((row * heads + h) * stride + first) * headDim;
        out.set(src.subarray(from, from + run.positions * headDim), (h * length + run.at) * headDim);
      }
    }
    tensors[name] = floatTensorOf(type, data, [1, heads, length, headDim]);
  }
  return { rows: 1, width: length, tensors };
}

/** Consecutive views of the same row merged into one copy each, cut at `length`. */
function copyRuns(views: readonly KvView[], length: number): { source: PackSource; start: number; positions: number; at: number }[] {
  const runs: { source: PackSource; start: number; positions: number; at: number }[] = [];
  let at = 0;
  for (const view of views) {
    if (at >= length) break;
    const take = Math.min(view.positions, length - at);
    const last = runs[runs.length - 1];
    const sameRow = last && last.source.kv === view.source.kv && last.source.row === view.source.row && last.source.length === view.source.length;
    if (last && sameRow && last.start + last.positions === view.start) last.positions += take;
    else runs.push({ source: view.source, start: view.start, positions: take, at });
    at += take;
  }
  return runs;
}

import { floatArray, floatTensorOf, type FloatArray, type FloatType } from "../runtime/tensor-dtype.ts";
import type { Tensor } from "../runtime/session.ts";

/**
 * Key/value tensors of every layer for `rows` sequences, left-padded to `width` positions: row r's real positions
 * are the last `length(r)` of the width, and its attention mask is 0 before them. Each tensor is `rows × heads ×
 * stride × headDim` with stride ≥ width: positions past the width are room a step may extend the block into in
 * place (kvStride).
 */
export interface KvBlock {
  readonly rows: number;
  readonly width: number;
  readonly tensors: Readonly<Record<string, Tensor>>;
}

/** Positions each row and head of the block's tensors hold: its width, or more when it has room to grow in place. */
export function kvStride(kv: KvBlock): number {
  for (const name in kv.tensors) return kv.tensors[name]!.dims[2] ?? kv.width;
  return kv.width;
}

/** The memory of the block's first tensor: blocks that share it are the same cache seen at different widths. */
export function kvMemory(kv: KvBlock): ArrayBufferLike | undefined {
  for (const name in kv.tensors) return (kv.tensors[name]!.data as Float32Array).buffer;
  return undefined;
}

/** One row of an existing block that a new block takes over, with the number of real positions it holds. */
export interface PackSource {
  kv: KvBlock;
  row: number;
  length: number;
}

/**
 * The shape of a decoder's cache: its `past_key_values.*` input names, heads, head size and element type (float32,
 * or float16 for fp16 / q4f16 exports), as the session declares them. Creates and re-packs blocks of that shape,
 * copying element bits, so float16 caches never pass through float32.
 */
export class KvLayout {
  constructor(
    readonly names: readonly string[],
    readonly kvHeads: number,
    readonly headDim: number,
    readonly type: FloatType,
  ) {}

  empty(rows = 1): KvBlock {
    const dims = [rows, this.kvHeads, 0, this.headDim];
    const tensors: Record<string, Tensor> = {};
    for (const name of this.names) tensors[name] = floatTensorOf(this.type, floatArray(this.type, 0), dims);
    return { rows, width: 0, tensors };
  }

  /** Positions of the longest source: the width of the block `pack` makes. */
  static packedWidth(sources: readonly PackSource[]): number {
    return Math.max(0, ...sources.map((s) => s.length));
  }

  /**
   * A block holding the given rows, in order, left-padded to the longest, with room for `stride` positions (default:
   * none beyond its width): new arrays, or the given tensors (exactly `rows × heads × stride × headDim` each, by input
   * name, not shared with any source), whose padding is zeroed. A source of length 0 leaves its row all padding.
   */
  pack(sources: readonly PackSource[], into?: Readonly<Record<string, Tensor>>, stride?: number): KvBlock {
    const { kvHeads, headDim } = this;
    const rows = sources.length;
    const width = KvLayout.packedWidth(sources);
    const room = Math.max(width, stride ?? width);
    const tensors: Record<string, Tensor> = {};
    for (const name of this.names) {
      tensors[name] = into?.[name] ?? floatTensorOf(this.type, floatArray(this.type, rows * kvHeads * room * headDim), [rows, kvHeads, room, headDim]);
    }
    const block = { rows, width, tensors };
    this.writeRows(block, 0, sources, into === undefined);
    return block;
  }

  /**
   * Writes `sources` into rows `first`, `first + 1`, … of `target`, each right-aligned to its width, its padding
   * zeroed (unless `zeroed`: the target is new memory). A source that already is that row of the same memory is left
   * as it is. Sources are read in order, so a row may come from a later row of the target itself.
   */
  writeRows(target: KvBlock, first: number, sources: readonly PackSource[], zeroed = false): void {
    const { kvHeads, headDim } = this;
    const { width } = target;
    const room = kvStride(target);
    for (const name of this.names) {
      const out = bitsView(target.tensors[name]!.data);
      sources.forEach((source, i) => {
        const r = first + i;
        const src = bitsView(source.kv.tensors[name]!.data);
        const srcStride = kvStride(source.kv);
        const srcWidth = source.kv.width;
        const same = src.buffer === out.buffer && src.byteOffset === out.byteOffset && srcStride === room && srcWidth === width;
        if (same && source.row === r) return;
        const pad = (width - source.length) * headDim;
        if (!zeroed && pad > 0) for (let h = 0; h < kvHeads; h++) out.fill(0, (r * kvHeads + h) * room * headDim, (r * kvHeads + h) * room * headDim + pad);
        if (source.length === 0) return;
        const span = source.length * headDim;
        for (let h = 0; h < kvHeads; h++) {
          const from = ((source.row * kvHeads + h) * srcStride + srcWidth - source.length) * headDim;
          const to = ((r * kvHeads + h) * room + width - source.length) * headDim;
          out.set(src.subarray(from, from + span), to);
        }
      });
    }
  }
}

/** The same elements as raw bits, so that copies never convert (float16 data may come as Float16Array or Uint16Array). */
export function bitsView(data: Tensor["data"]): Uint32Array | Uint16Array {
  if (data instanceof Float32Array) return new Uint32Array(data.buffer, data.byteOffset, data.length);
  if (data instanceof Float16Array || data instanceof Uint16Array) return new Uint16Array(data.buffer, data.byteOffset, data.length);
  throw new Error(`a key/value cache must be float32 or float16, got ${data.constructor.name}`);
}

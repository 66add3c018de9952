import { floatArray, floatTensorOf, type FloatArray, type FloatType } from "../runtime/tensor-dtype.ts";
import type { Tensor } from "../runtime/session.ts";
import { KvLayout, kvMemory, kvStride, type KvBlock, type PackSource } from "./kv-block.ts";
import type { DecodeBuffers } from "./kv-buffers.ts";

/**
 * Rows a decode block's new buffers have room for, so that rows join in place instead of the batch being copied into
 * bigger buffers: at least 8 (the default batch), else the next power of two. Room no row has written costs address
 * space only: the kernel gives a page memory when it is first written.
 */
export const ROOM_ROWS = 8;
function roomRows(rows: number): number {
  return Math.max(ROOM_ROWS, 2 ** Math.ceil(Math.log2(Math.max(1, rows))));
}

/** Positions of room a block gets beyond what it needs now: 64, or an eighth of its width when that is more. */
export function roomBeyond(width: number): number {
  return Math.max(64, width >> 3);
}

/**
 * Blocks that steps extend in place, for a graph whose attention reads and writes one cache buffer (past and present
 * the same memory: src/runtime/graph-rewrite/shared-kv-attention.ts). A run on a block with room writes only its new
 * positions, after the block's width; the positions before it are never written again, so views of them (the prefix
 * cache's) stay valid. Several blocks may share memory at different widths (a prompt's cache and the same cache
 * extended by a next turn); only the widest may be extended, because the positions after a narrower one's width
 * hold another sequence's tokens. A block that cannot be extended is copied into one with room: a decode batch's into
 * DecodeBuffers (reused from step to step), a prompt's into new arrays (the prefix cache may keep them).
 */
export class KvRoom {
  /** Positions written so far into each memory this class handed out. */
  private readonly written = new WeakMap<ArrayBufferLike, number>();
  /** Logits of decode steps, two arrays used in turn: a step's logits stay valid until the step after the next. */
  private logits: FloatArray[] = [];
  private turn = 0;

  constructor(
    private readonly layout: KvLayout,
    private readonly buffers: DecodeBuffers,
  ) {}

  /** Whether a step may write `width − kv.width` positions after `kv`'s width into its own memory. */
  extendable(kv: KvBlock, width: number): boolean {
    const memory = kvMemory(kv);
    return kv.width > 0 && memory !== undefined && kvStride(kv) >= width && this.written.get(memory) === kv.width;
  }

  /**
   * A block holding `past` (every row, padding included) with room for `width` positions (at least `room`, the whole
   * prompt when the caller knows it): `past` itself when it can be extended in place, else a copy in new arrays.
   */
  forPrefill(past: KvBlock, width: number, room = 0): KvBlock {
    if (this.extendable(past, width)) return past;
    const capacity = Math.max(width, room);
    const stride = capacity + roomBeyond(capacity);
    const block = past.width === 0 ? this.empty(past.rows, stride) : this.layout.pack(this.wholeRows(past), undefined, stride);
    this.mark(block);
    return block;
  }

  /** The decode batch's block with room for one more position: `kv` itself, or a copy in DecodeBuffers. */
  forDecode(kv: KvBlock): KvBlock {
    if (this.extendable(kv, kv.width + 1)) return kv;
    const stride = kv.width + 1 + roomBeyond(kv.width + 1);
    const lease = this.buffers.lease(kv, kv.rows, kv.width, true, [], stride, roomRows(kv.rows));
    const block = this.layout.pack(this.wholeRows(kv), lease.tensors, stride);
    lease.commit(block);
    this.mark(block);
    return block;
  }

  /**
   * The decode batch's new block when rows join or leave, with room to decode into, in DecodeBuffers: in the current
   * block's own buffers when its rows that stay keep their places (packInPlace), else a copy of every row.
   */
  packForDecode(sources: readonly PackSource[]): KvBlock {
    const inPlace = this.packInPlace(sources);
    if (inPlace) return inPlace;
    const width = KvLayout.packedWidth(sources);
    const stride = width + roomBeyond(width);
    const rows = sources.length;
    const lease = this.buffers.lease(sources[0]!.kv, rows, width, false, sources.map((s) => s.kv), stride, roomRows(rows));
    const block = this.layout.pack(sources, lease.tensors, stride);
    lease.commit(block);
    this.mark(block);
    return block;
  }

  /**
   * Rows joining or leaving a decode block without copying the rows that stay: when the first sources are rows 0..k−1
   * of the current block (which may be extended), every other source fits in its width (no wider than it, and at least
   * half of it, so padding stays bounded) and its buffers have room for the rows, the other sources are written into
   * rows k.. of those buffers (padding zeroed). Undefined when that does not apply.
   */
  private packInPlace(sources: readonly PackSource[]): KvBlock | undefined {
    const current = sources[0]!.kv;
    const width = current.width;
    const packed = KvLayout.packedWidth(sources);
    if (!this.extendable(current, width) || packed > width || 2 * packed < width) return undefined;
    const whole = this.buffers.buffersOf(current);
    const { names, kvHeads, headDim, type } = this.layout;
    const stride = kvStride(current);
    const rows = sources.length;
    if (!whole || whole[0]!.length < rows * kvHeads * stride * headDim) return undefined;
    let kept = 0;
    while (kept < rows && sources[kept]!.kv === current && sources[kept]!.row === kept) kept++;
    if (kept === 0) return undefined;
    const tensors: Record<string, Tensor> = {};
    names.forEach((name, i) => (tensors[name] = floatTensorOf(type, whole[i]!.subarray(0, rows * kvHeads * stride * headDim), [rows, kvHeads, stride, headDim])));
    const target: KvBlock = { rows, width, tensors };
    // Rows moving within the block are read before anything is written over them: moved rows come from after `kept`.
    this.layout.writeRows(target, kept, sources.slice(kept));
    this.buffers.advance(current, target);
    this.mark(target);
    return target;
  }

  /** A step wrote `to` (wider) into `from`'s memory; a decode block's buffers now hold `to`. */
  extended(from: KvBlock, to: KvBlock): void {
    this.mark(to);
    this.buffers.advance(from, to);
  }

  /** `length` elements for a decode step's logits, alternating between two arrays. */
  stepLogits(type: FloatType, length: number): FloatArray {
    this.turn ^= 1;
    const kept = this.logits[this.turn];
    const fitting = kept && kept.length >= length && (type === "float16") === kept instanceof Uint16Array;
    if (!fitting) this.logits[this.turn] = floatArray(type, length);
    return this.logits[this.turn]!.subarray(0, length);
  }

  private mark(block: KvBlock): void {
    const memory = kvMemory(block);
    if (memory) this.written.set(memory, block.width);
  }

  private wholeRows(kv: KvBlock): PackSource[] {
    return Array.from({ length: kv.rows }, (_, row) => ({ kv, row, length: kv.width }));
  }

  private empty(rows: number, stride: number): KvBlock {
    const { names, kvHeads, headDim, type } = this.layout;
    const tensors: Record<string, Tensor> = {};
    for (const name of names) tensors[name] = floatTensorOf(type, floatArray(type, rows * kvHeads * stride * headDim), [rows, kvHeads, stride, headDim]);
    return { rows, width: 0, tensors };
  }
}

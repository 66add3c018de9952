import type { Tensor } from "../runtime/session.ts";
import { floatArray, floatTensorOf, type FloatArray, type FloatType } from "../runtime/tensor-dtype.ts";
import type { KvBlock, KvLayout } from "./kv-block.ts";

/** Positions of room a new buffer keeps beyond the step that needed it, so that it is not replaced every step. */
const MIN_SLACK = 64;
/** Sets kept at most; a step that finds none free beyond that writes fresh buffers the garbage collector frees. */
const MAX_SETS = 4;

interface BufferSet {
  buffers: FloatArray[];
  /** The logits of the step whose cache the set holds (decode steps only). */
  logits?: FloatArray;
  /** The decode block these buffers hold, until a later step consumes it or it is retired; undefined: free. */
  holder: KvBlock | undefined;
}

/** The cache tensors a step writes, and what to call once it has written them. */
export interface CacheLease {
  tensors: Record<string, Tensor>;
  /**
   * `length` elements of `type` for the step's logits, kept with its cache: valid for as long as the cache (fresh
   * memory costs page faults every step otherwise: a 50,257-entry row is 50 pages).
   */
  logits(type: FloatType, length: number): FloatArray;
  /** The step succeeded and returned `block` (its cache is `tensors`): the step's input is consumed. */
  commit(block: KvBlock): void;
}

/**
 * Buffers that decode steps write their output cache into when the session writes outputs in place, reused from step
 * to step instead of allocating (and later collecting) a whole cache per token. A decode step consumes its input: once
 * step n has run on the block step n − 1 wrote, that block's buffers are free for step n + 1 to write. A block that
 * leaves the batch another way (re-packed into a new block) is freed with `retire`, every set with `clear` when the
 * batch empties. A set is never written while its block may still be read: while the block is the input of a step, or
 * held by a caller that has not consumed or retired it. One batch therefore uses two sets in turn; blocks the prefix
 * cache keeps come from prefills, never from here.
 *
 * A block is a view of the first `rows × heads × width × headDim` elements of each buffer, so a set serves any batch
 * shape that fits: it is replaced when a step outgrows it (leaving room for 64 more positions, or 1/8 more) or when
 * it is more than four times larger than needed (a batch that shrank).
 */
export class DecodeBuffers {
  private sets: BufferSet[] = [];

  constructor(private readonly layout: KvLayout) {}

  /**
   * Output tensors for a step from `input` to a block of `rows × width`, in buffers nobody reads. With `consumes`
   * false (a re-pack reading `input` and `others`), committing leaves the input's set held. With `stride`, the
   * tensors hold that many positions per row and head (room the block grows into in place), and new buffers are
   * allocated for `roomRows` rows of that (rows that may join in place later; pages never written cost no memory).
   */
  lease(input: KvBlock, rows: number, width: number, consumes = true, others: readonly KvBlock[] = [], stride?: number, roomRows = rows): CacheLease {
    const { names, kvHeads, headDim, type } = this.layout;
    const positions = stride ?? width;
    const needed = rows * kvHeads * positions * headDim;
    const source = consumes ? this.sets.find((set) => set.holder === input) : undefined;
    // A block read again after a step consumed it is still not written while it is being read.
    const reading = new Set([input, ...others].map((kv) => (kv.tensors[names[0]!]?.data as FloatArray | undefined)?.buffer));
    const free = this.sets.filter((set) => set.holder === undefined && !reading.has(set.buffers[0]?.buffer));
    let target = free.find((set) => fits(set, needed)) ?? free[0];
    if (!target && this.sets.length < MAX_SETS) {
      target = { buffers: [], holder: undefined };
      this.sets.push(target);
    }
    if (target && !fits(target, needed)) {
      const room = stride === undefined ? rows * kvHeads * (width + Math.max(MIN_SLACK, width >> 3)) * headDim : Math.max(rows, roomRows) * kvHeads * stride * headDim;
      target.buffers = names.map(() => floatArray(type, room));
    }
    const buffers = target?.buffers ?? names.map(() => floatArray(type, needed));
    const dims = [rows, kvHeads, positions, headDim];
    const tensors: Record<string, Tensor> = {};
    names.forEach((name, i) => (tensors[name] = floatTensorOf(type, buffers[i]!.subarray(0, needed), dims)));
    return {
      tensors,
      logits: (logitsType, length) => {
        if (!target) return floatArray(logitsType, length);
        const kept = target.logits;
        const fitting = kept && kept.length >= length && (logitsType === "float16") === kept instanceof Uint16Array;
        if (!fitting) target.logits = floatArray(logitsType, length);
        return target.logits!.subarray(0, length);
      },
      commit: (block) => {
        if (target) target.holder = block;
        if (source) source.holder = undefined;
      },
    };
  }

  /** The whole buffers (by cache name, in layout order) of the set holding `block`, if one does. */
  buffersOf(block: KvBlock): readonly FloatArray[] | undefined {
    return this.sets.find((s) => s.holder === block)?.buffers;
  }

  /** A step extended `from` in place into `to` (the same buffers, wider): the set now holds `to`. */
  advance(from: KvBlock, to: KvBlock): void {
    const set = this.sets.find((s) => s.holder === from);
    if (set) set.holder = to;
  }

  /** `block` will not be read again (it was re-packed into another): its buffers are free. */
  retire(block: KvBlock): void {
    const set = this.sets.find((s) => s.holder === block);
    if (set) set.holder = undefined;
  }

  /** Bytes the kept sets hold. */
  get bytes(): number {
    return this.sets.reduce((n, set) => n + set.buffers.reduce((m, buffer) => m + buffer.byteLength, 0), 0);
  }

  /** Lets every set go: no decode block is alive any more (the batch emptied). */
  clear(): void {
    this.sets = [];
  }
}

function fits(set: BufferSet, needed: number): boolean {
  const length = set.buffers[0]?.length ?? -1;
  return length >= needed && length <= Math.max(4 * needed, 1 << 16);
}

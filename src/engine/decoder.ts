import { join } from "node:path";
import { openDecoderSession } from "../runtime/decoder-session.ts";
import { DirectSession } from "../runtime/direct-session.ts";
import type { EmbeddingRows } from "../runtime/embedding-rows.ts";
import { int64Tensor, int64TensorOf, type Session, type SessionSettings, type Tensor } from "../runtime/session.ts";
import { float32Range, floatArray, floatTensorOf, forBinding, type FloatArray } from "../runtime/tensor-dtype.ts";
import type { RewriteName } from "../runtime/graph-rewrite/rewrites.ts";
import type { BatchModel, PrefillRow } from "./batch-model.ts";
import { readDecoderIo, type DecoderIo } from "./decoder-io.ts";
import { KvLayout, type KvBlock, type PackSource } from "./kv-block.ts";
import { DecodeBuffers, type CacheLease } from "./kv-buffers.ts";
import { KvRoom } from "./kv-room.ts";
import type { DecoderConfig } from "./model-config.ts";

export type { KvBlock, PackSource } from "./kv-block.ts";

export interface StepResult {
  /** Next-token logits as float32, `rows × vocab`, row after row (the last position of each row only). */
  logits: Float32Array;
  kv: KvBlock;
}

/** Which positions' logits a prefill returns: each row's last (what sampling needs), or every prompt position. */
export type LogitPositions = "last" | "all";

/**
 * One ONNX decoder session (Optimum/transformers.js export layout), driven by the scheduler: single-sequence prompt
 * chunks, batched one-token decode steps over a left-padded cache, and re-packing of that cache when rows change.
 * Element types come from the session: float16 caches stay float16, float16 logits are converted row by row, only for
 * the positions that are returned.
 */
export class Decoder implements BatchModel<KvBlock> {
  /** Without position_ids the graph derives positions from the cache width, which left padding would shift. */
  readonly supportsPadding: boolean;
  /**
   * False when attention is GroupQueryAttention (rewritten at load), which runs several new positions after cached
   * ones for one sequence at a time.
   */
  readonly batchesResumedPrompts: boolean;
  readonly io: DecoderIo;
  /** Where decode steps write their cache when the session writes outputs in place (undefined: it does not). */
  private readonly decodeBuffers: DecodeBuffers | undefined;
  /** Blocks extended in place, when the graph's attention shares past and present and outputs are written in place. */
  private readonly room: KvRoom | undefined;

  private constructor(
    private readonly session: Session | DirectSession,
    readonly config: DecoderConfig,
    readonly rewrites: readonly RewriteName[] = [],
    /** Fills the graph's token-embeddings input (the embedding-rows rewrite). */
    private readonly embeddings?: EmbeddingRows,
  ) {
    this.io = readDecoderIo(session, config, embeddings?.input);
    this.supportsPadding = this.io.hasPositionIds;
    const shared = rewrites.includes("shared-kv-attention");
    this.batchesResumedPrompts = !shared;
    this.decodeBuffers = session instanceof DirectSession ? new DecodeBuffers(this.io.cache) : undefined;
    this.room = shared && this.decodeBuffers ? new KvRoom(this.io.cache, this.decodeBuffers) : undefined;
  }

  /** Whether steps extend the cache in place (GroupQueryAttention over one buffer for past and present). */
  get extendsInPlace(): boolean {
    return this.room !== undefined;
  }

  /** Whether outputs are written into the engine's buffers (the C API path) rather than copied after each run. */
  get writesInPlace(): boolean {
    return this.decodeBuffers !== undefined;
  }

  static async open(dir: string, onnxFile: string, config: DecoderConfig, settings: SessionSettings = {}): Promise<Decoder> {
    const { session, rewrites, embeddings } = await openDecoderSession(join(dir, "onnx", onnxFile), settings, config.fullCausalAttention ? { heads: config.heads } : undefined);
    try {
      return new Decoder(session, config, rewrites, embeddings);
    } catch (error) {
      embeddings?.close();
      await session.release();
      throw error;
    }
  }

  /** Cache bytes per position of one sequence: every past tensor holds kvHeads × headDim elements per position. */
  get kvBytesPerPosition(): number {
    const { names, kvHeads, headDim, type } = this.io.cache;
    return names.length * kvHeads * headDim * (type === "float16" ? 2 : 4);
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  emptyKv(rows = 1): KvBlock {
    return this.io.cache.empty(rows);
  }

  /**
   * Runs `ids` after the positions already in `past` (one unpadded sequence) and returns its last logits, or with
   * `positions: "all"` the logits of every new position (`ids.length × vocab`, for scoring a prompt). `room`: positions
   * the whole prompt will take (a cache extended in place is given room for them at once).
   */
  async prefill(ids: readonly number[], past: KvBlock, positions: LogitPositions = "last", room = 0): Promise<StepResult> {
    if (past.rows !== 1) throw new Error("prefill takes one sequence");
    const total = past.width + ids.length;
    const at = Array.from(ids, (_, i) => past.width + i);
    const keep = positions === "all" ? ids.length : 1;
    const block = this.room?.forPrefill(past, total, room) ?? past;
    const { logits, kv } = await this.run(block, ids, [1, ids.length], new Array<number>(total).fill(1), at, keep);
    this.room?.extended(block, kv);
    return { logits: this.lastLogits(logits, 1, keep), kv };
  }

  /**
   * The next chunk of several prompts in one run. Each row's new ids are left-padded to the longest, after the rows'
   * caches packed left-padded to the longest; the mask is 0 on padding and each row's positions continue from its own
   * cache, so a row's numbers are those it gets alone. Every row's last real token sits at the last position, whose
   * logits are returned; the output cache keeps every row right-aligned, as `pack` and `decode` expect.
   */
  async prefillBatch(rows: readonly PrefillRow<KvBlock>[]): Promise<StepResult> {
    const count = rows.length;
    if (count === 0) throw new Error("prefillBatch takes at least one row");
    const seq = Math.max(...rows.map((r) => r.ids.length));
    const cached = rows.map((r) => r.past?.length ?? 0);
    const holder = rows.find((r) => r.past && r.past.length > 0)?.past;
    if (holder && count > 1 && !this.batchesResumedPrompts) throw new Error("this graph runs a prompt with cached positions alone");
    // A single row whose cache fills its own one-row block (a prompt resumed from the prefix cache) runs on it as it is.
    const whole = count === 1 && holder && holder.kv.rows === 1 && holder.length === holder.kv.width;
    const packed = whole
      ? holder.kv
      : holder
        ? this.pack(rows.map((r) => (r.past && r.past.length > 0 ? r.past : { kv: holder.kv, row: 0, length: 0 })))
        : this.emptyKv(count);
    const past = this.room?.forPrefill(packed, packed.width + seq, Math.max(...rows.map((r) => r.room ?? 0))) ?? packed;
    const width = past.width + seq;
    const ids = new Array<number>(count * seq).fill(0);
    const positions = new Array<number>(count * seq).fill(0);
    const mask = new Array<number>(count * width).fill(0);
    rows.forEach((row, r) => {
      const n = row.ids.length;
      if (n === 0) throw new Error("a prefill row needs at least one token");
      if (cached[r]! > 0 && n !== seq) throw new Error("a row with cached positions needs as many new ids as the longest row");
      const pad = seq - n;
      for (let j = 0; j < n; j++) {
        ids[r * seq + pad + j] = row.ids[j]!;
        positions[r * seq + pad + j] = cached[r]! + j;
      }
      const start = r * width + past.width;
      mask.fill(1, start - cached[r]!, start).fill(1, start + pad, (r + 1) * width);
    });
    const { logits, kv } = await this.run(past, ids, [count, seq], mask, positions, 1);
    this.room?.extended(past, kv);
    return { logits: this.lastLogits(logits, count, 1), kv };
  }

  /**
   * One token for every row of `kv`: `tokens[r]` goes after the `lengths[r]` real positions of row r. The returned
   * cache is the session's own `present.*` output, one position wider, ready for the next step as it is. When the
   * session writes in place, that block lives in DecodeBuffers: valid until the step after the next one.
   */
  async decode(kv: KvBlock, tokens: readonly number[], lengths: readonly number[]): Promise<StepResult> {
    const rows = kv.rows;
    const width = kv.width + 1;
    // Built as int64 directly: at long contexts the mask is the step's largest input (rows × width).
    const mask = new BigInt64Array(rows * width);
    for (let r = 0; r < rows; r++) mask.fill(1n, r * width + kv.width - lengths[r]!, (r + 1) * width);
    if (this.room) {
      const block = this.room.forDecode(kv);
      const size = rows * this.io.logitsWidth;
      const out = await this.run(block, tokens, [rows, 1], mask, lengths, 1, undefined, this.room.stepLogits(this.io.logitsType, size));
      this.room.extended(block, out.kv);
      return { logits: this.lastLogits(out.logits, rows, 1), kv: out.kv };
    }
    const out = await this.run(kv, tokens, [rows, 1], mask, lengths, 1, this.decodeBuffers);
    return { logits: this.lastLogits(out.logits, rows, 1), kv: out.kv };
  }

  /** No decode block is alive any more (the batch emptied): the buffers decode steps write into can go. */
  releaseDecodeBuffers(): void {
    this.decodeBuffers?.clear();
  }

  /** A decode block that will not be read again (re-packed into another): the buffers it is in are free. */
  retire(kv: KvBlock): void {
    this.decodeBuffers?.retire(kv);
  }

  /**
   * A new block holding the given rows, in order, left-padded to the longest. This is the only copy of the cache
   * the server makes, and it happens when a sequence joins or leaves the batch, or when a prompt with cached positions
   * is prefilled next to others. A source of length 0 leaves its row all padding.
   */
  pack(sources: readonly PackSource[], forDecode = false): KvBlock {
    const buffers = forDecode ? this.decodeBuffers : undefined;
    if (!buffers || sources.length === 0) return this.io.cache.pack(sources);
    if (this.room) return this.room.packForDecode(sources);
    // The batch's new block goes into buffers decode steps already touched: no fresh pages to fault in.
    const width = KvLayout.packedWidth(sources);
    const lease = buffers.lease(sources[0]!.kv, sources.length, width, false, sources.map((s) => s.kv));
    const block = this.io.cache.pack(sources, lease.tensors);
    lease.commit(block);
    return block;
  }

  async release(): Promise<void> {
    this.decodeBuffers?.clear();
    this.embeddings?.close();
    await this.session.release();
  }

  /** The last `keep` positions of each row as float32 (a view when the model's logits are float32 already). */
  private lastLogits(logits: Tensor, rows: number, keep: number): Float32Array {
    const vocab = this.io.logitsWidth;
    const perRow = logits.data.length / rows;
    const span = keep * vocab;
    if (perRow === span) return float32Range(logits.data, 0, rows * span);
    if (rows === 1) return float32Range(logits.data, perRow - span, perRow);
    const out = new Float32Array(rows * span);
    for (let r = 0; r < rows; r++) out.set(float32Range(logits.data, (r + 1) * perRow - span, (r + 1) * perRow), r * span);
    return out;
  }

  private async run(
    past: KvBlock,
    ids: readonly number[],
    dims: readonly [number, number],
    mask: readonly number[] | BigInt64Array,
    positions: readonly number[],
    keep: number,
    buffers?: DecodeBuffers,
    stepLogits?: FloatArray,
  ): Promise<{ logits: Tensor; kv: KvBlock }> {
    const maskDims = [dims[0], mask.length / dims[0]];
    const feeds: Record<string, Tensor> = {
      input_ids: int64Tensor(ids, dims),
      attention_mask: mask instanceof BigInt64Array ? int64TensorOf(mask, maskDims) : int64Tensor(mask, maskDims),
    };
    if (this.embeddings) feeds[this.embeddings.input] = this.embeddings.tensor(ids, dims);
    Object.assign(feeds, past.tensors);
    if (this.io.hasPositionIds) {
      const offset = this.config.positionOffset;
      feeds.position_ids = int64Tensor(offset === 0 ? positions : positions.map((p) => p + offset), dims);
    }
    if (this.io.logitsToKeep) feeds[this.io.logitsToKeep] = int64Tensor([keep], []);
    const width = past.width + dims[1];
    if (this.room) return this.runExtending(past, feeds, dims, width, keep, stepLogits);
    const lease = buffers?.lease(past, dims[0], width);
    const outputs = this.session instanceof DirectSession ? await this.runInPlace(feeds, dims, width, keep, lease) : await this.session.run(feeds);
    const logits = outputs.logits;
    if (!logits) throw new Error("decoder returned no logits");
    const tensors: Record<string, Tensor> = {};
    for (const pastName of this.io.cache.names) {
      const present = pastName.replace(/^past_key_values/, "present");
      const tensor = outputs[present];
      if (!tensor) throw new Error(`decoder returned no ${present}`);
      tensors[pastName] = forBinding(tensor);
    }
    const kv = { rows: past.rows, width, tensors };
    lease?.commit(kv);
    return { logits, kv };
  }

  /**
   * Runs through the C API on a block with room for the new positions: its tensors are both the past and the present
   * (GroupQueryAttention then writes only the new positions), logits go into `stepLogits` or a new array.
   */
  private async runExtending(
    block: KvBlock,
    feeds: Record<string, Tensor>,
    dims: readonly [number, number],
    width: number,
    keep: number,
    stepLogits: FloatArray | undefined,
  ): Promise<{ logits: Tensor; kv: KvBlock }> {
    const { cache, logitsType, logitsWidth, logitsToKeep } = this.io;
    const size = dims[0] * (logitsToKeep ? keep : dims[1]) * logitsWidth;
    const logits = floatTensorOf(logitsType, stepLogits ?? floatArray(logitsType, size), [dims[0], size / dims[0] / logitsWidth, logitsWidth]);
    const outputs: Record<string, Tensor> = { logits };
    for (const name of cache.names) outputs[name.replace(/^past_key_values/, "present")] = block.tensors[name]!;
    await (this.session as DirectSession).run(feeds, outputs);
    return { logits, kv: { rows: block.rows, width, tensors: block.tensors } };
  }

  /**
   * Runs through the C API with every output allocated here: the cache and logits of a decode step in its lease
   * (DecodeBuffers, reused), those of a prefill fresh (the prefix cache may keep its cache).
   */
  private async runInPlace(
    feeds: Record<string, Tensor>,
    dims: readonly [number, number],
    width: number,
    keep: number,
    lease: CacheLease | undefined,
  ): Promise<Record<string, Tensor>> {
    const { cache, logitsType, logitsWidth, logitsToKeep } = this.io;
    const rows = dims[0];
    const positions = logitsToKeep ? keep : dims[1];
    const size = rows * positions * logitsWidth;
    const outputs: Record<string, Tensor> = {
      logits: floatTensorOf(logitsType, lease ? lease.logits(logitsType, size) : floatArray(logitsType, size), [rows, positions, logitsWidth]),
    };
    const caches = lease?.tensors;
    const cacheDims = [rows, cache.kvHeads, width, cache.headDim];
    for (const name of cache.names) {
      const present = name.replace(/^past_key_values/, "present");
      outputs[present] = caches?.[name] ?? floatTensorOf(cache.type, floatArray(cache.type, rows * cache.kvHeads * width * cache.headDim), cacheDims);
    }
    await (this.session as DirectSession).run(feeds, outputs);
    return outputs;
  }
}

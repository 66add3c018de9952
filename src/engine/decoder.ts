import { join } from "node:path";
import { createSession, emptyFloatTensor, floatTensor, int64Tensor, type Session, type SessionSettings, type Tensor } from "../runtime/session.ts";
import type { BatchModel, PrefillRow } from "./batch-model.ts";
import type { DecoderConfig } from "./model-config.ts";

/**
 * Key/value tensors of every layer for `rows` sequences, left-padded to `width` positions: row r's real positions
 * are the last `length(r)` of the width, and its attention mask is 0 before them.
 */
export interface KvBlock {
  readonly rows: number;
  readonly width: number;
  readonly tensors: Readonly<Record<string, Tensor>>;
}

export interface StepResult {
  /** Next-token logits, `rows × vocab`, row after row (the last position of each row only). */
  logits: Float32Array;
  kv: KvBlock;
}

/** One row of an existing block that a new block takes over, with the number of real positions it holds. */
export interface PackSource {
  kv: KvBlock;
  row: number;
  length: number;
}

/**
 * One ONNX decoder session (Optimum/transformers.js export layout), driven by the scheduler: single-sequence prompt
 * chunks, batched one-token decode steps over a left-padded cache, and re-packing of that cache when rows change.
 */
export class Decoder implements BatchModel<KvBlock> {
  /** Without position_ids the graph derives positions from the cache width, which left padding would shift. */
  readonly supportsPadding: boolean;
  private readonly pastNames: readonly string[];
  private readonly presentToPast = new Map<string, string>();

  private constructor(
    private readonly session: Session,
    readonly config: DecoderConfig,
  ) {
    this.supportsPadding = session.inputNames.includes("position_ids");
    for (const name of session.outputNames) {
      if (name.startsWith("present")) this.presentToPast.set(name, name.replace(/^present/, "past_key_values"));
    }
    if (this.presentToPast.size !== 2 * config.numLayers) {
      throw new Error(
        `expected ${2 * config.numLayers} present.* outputs for ${config.numLayers} layers, found ${this.presentToPast.size}`,
      );
    }
    this.pastNames = [...this.presentToPast.values()];
  }

  static async open(dir: string, onnxFile: string, config: DecoderConfig, settings: SessionSettings = {}): Promise<Decoder> {
    const session = await createSession(join(dir, "onnx", onnxFile), settings);
    return new Decoder(session, config);
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  emptyKv(rows = 1): KvBlock {
    const dims = [rows, this.config.kvHeads, 0, this.config.headDim];
    const tensors: Record<string, Tensor> = {};
    for (const past of this.pastNames) tensors[past] = emptyFloatTensor(dims);
    return { rows, width: 0, tensors };
  }

  /** Runs `ids` after the positions already in `past` (one unpadded sequence) and returns its last logits. */
  async prefill(ids: readonly number[], past: KvBlock): Promise<StepResult> {
    if (past.rows !== 1) throw new Error("prefill takes one sequence");
    const total = past.width + ids.length;
    const positions = Array.from(ids, (_, i) => past.width + i);
    const { logits, kv } = await this.run(past, ids, [1, ids.length], new Array<number>(total).fill(1), positions);
    return { logits: logits.subarray(logits.length - this.config.vocabSize), kv };
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
    const past = holder
      ? this.pack(rows.map((r) => (r.past && r.past.length > 0 ? r.past : { kv: holder.kv, row: 0, length: 0 })))
      : this.emptyKv(count);
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
    const { logits, kv } = await this.run(past, ids, [count, seq], mask, positions);
    const vocab = this.config.vocabSize;
    const perRow = logits.length / count;
    const last = new Float32Array(count * vocab);
    for (let r = 0; r < count; r++) last.set(logits.subarray((r + 1) * perRow - vocab, (r + 1) * perRow), r * vocab);
    return { logits: last, kv };
  }

  /**
   * One token for every row of `kv`: `tokens[r]` goes after the `lengths[r]` real positions of row r. The returned
   * cache is the session's own `present.*` output, one position wider, ready for the next step as it is.
   */
  decode(kv: KvBlock, tokens: readonly number[], lengths: readonly number[]): Promise<StepResult> {
    const rows = kv.rows;
    const width = kv.width + 1;
    const mask = new Array<number>(rows * width);
    for (let r = 0; r < rows; r++) {
      const pad = kv.width - lengths[r]!;
      mask.fill(0, r * width, r * width + pad).fill(1, r * width + pad, (r + 1) * width);
    }
    return this.run(kv, tokens, [rows, 1], mask, lengths);
  }

  /**
   * A new block holding the given rows, in order, left-padded to the longest. This is the only copy of the cache
   * the server makes, and it happens when a sequence joins or leaves the batch, or when a prompt with cached positions
   * is prefilled next to others. A source of length 0 leaves its row all padding.
   */
  pack(sources: readonly PackSource[]): KvBlock {
    const { kvHeads, headDim } = this.config;
    const rows = sources.length;
    const width = Math.max(0, ...sources.map((s) => s.length));
    const tensors: Record<string, Tensor> = {};
    for (const name of this.pastNames) {
      const out = new Float32Array(rows * kvHeads * width * headDim);
      sources.forEach((source, r) => {
        if (source.length === 0) return;
        const src = source.kv.tensors[name]!.data as Float32Array;
        const srcWidth = source.kv.width;
        const span = source.length * headDim;
        for (let h = 0; h < kvHeads; h++) {
          const from = ((source.row * kvHeads + h) * srcWidth + srcWidth - source.length) * headDim;
          const to = ((r * kvHeads + h) * width + width - source.length) * headDim;
          out.set(src.subarray(from, from + span), to);
        }
      });
      tensors[name] = floatTensor(out, [rows, kvHeads, width, headDim]);
    }
    return { rows, width, tensors };
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private async run(
    past: KvBlock,
    ids: readonly number[],
    dims: readonly [number, number],
    mask: readonly number[],
    positions: readonly number[],
  ): Promise<StepResult> {
    const feeds: Record<string, Tensor> = {
      ...past.tensors,
      input_ids: int64Tensor(ids, dims),
      attention_mask: int64Tensor(mask, [dims[0], mask.length / dims[0]]),
    };
    if (this.supportsPadding) feeds.position_ids = int64Tensor(positions, dims);
    const outputs = await this.session.run(feeds);
    const logits = outputs.logits;
    if (!logits) throw new Error("decoder returned no logits");
    const tensors: Record<string, Tensor> = {};
    for (const [present, pastName] of this.presentToPast) {
      const tensor = outputs[present];
      if (!tensor) throw new Error(`decoder returned no ${present}`);
      tensors[pastName] = tensor;
    }
    return { logits: logits.data as Float32Array, kv: { rows: past.rows, width: past.width + dims[1], tensors } };
  }
}

import { join } from "node:path";
import { createSession, emptyFloatTensor, int64Tensor, type Session, type Tensor } from "../runtime/session.ts";
import type { DecoderConfig } from "./model-config.ts";

/** Key/value tensors of every layer for one sequence, as returned by the previous step. */
export interface KvCache {
  readonly length: number;
  readonly tensors: Record<string, Tensor>;
}

export interface ForwardResult {
  /** Logits of the last position only (vocab-sized). */
  logits: Float32Array;
  cache: KvCache;
}

/**
 * One ONNX decoder session (Optimum/transformers.js export layout). Runs the prompt (prefill) and then one token per
 * step, feeding each step's `present.*` outputs back as the next `past_key_values.*` without copying them.
 */
export class Decoder {
  private readonly usesPositionIds: boolean;
  private readonly presentToPast = new Map<string, string>();

  private constructor(
    private readonly session: Session,
    readonly config: DecoderConfig,
  ) {
    this.usesPositionIds = session.inputNames.includes("position_ids");
    for (const name of session.outputNames) {
      if (name.startsWith("present")) this.presentToPast.set(name, name.replace(/^present/, "past_key_values"));
    }
    if (this.presentToPast.size !== 2 * config.numLayers) {
      throw new Error(
        `expected ${2 * config.numLayers} present.* outputs for ${config.numLayers} layers, found ${this.presentToPast.size}`,
      );
    }
  }

  static async open(dir: string, onnxFile: string, config: DecoderConfig, intraOpThreads?: number): Promise<Decoder> {
    const session = await createSession(join(dir, "onnx", onnxFile), { intraOpThreads });
    return new Decoder(session, config);
  }

  emptyCache(): KvCache {
    const dims = [1, this.config.kvHeads, 0, this.config.headDim];
    const tensors: Record<string, Tensor> = {};
    for (const past of this.presentToPast.values()) tensors[past] = emptyFloatTensor(dims);
    return { length: 0, tensors };
  }

  /** Runs `ids` after the cached positions and returns the next-token logits and the extended cache. */
  async forward(ids: readonly number[], cache: KvCache): Promise<ForwardResult> {
    const total = cache.length + ids.length;
    const feeds: Record<string, Tensor> = {
      ...cache.tensors,
      input_ids: int64Tensor(ids, [1, ids.length]),
      attention_mask: int64Tensor(new Array<number>(total).fill(1), [1, total]),
    };
    if (this.usesPositionIds) {
      feeds.position_ids = int64Tensor(
        Array.from(ids, (_, i) => cache.length + i),
        [1, ids.length],
      );
    }
    const outputs = await this.session.run(feeds);
    const logitsTensor = outputs.logits;
    if (!logitsTensor) throw new Error("decoder returned no logits");
    const vocab = logitsTensor.dims[2] ?? this.config.vocabSize;
    const all = logitsTensor.data as Float32Array;
    const logits = all.subarray(all.length - vocab);
    const tensors: Record<string, Tensor> = {};
    for (const [present, past] of this.presentToPast) {
      const tensor = outputs[present];
      if (!tensor) throw new Error(`decoder returned no ${present}`);
      tensors[past] = tensor;
    }
    return { logits, cache: { length: total, tensors } };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

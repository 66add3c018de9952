import { join } from "node:path";
import type { SessionSettings } from "../runtime/session.ts";
import { Decoder, type KvBlock } from "./decoder.ts";
import { halfWeightsFor } from "./fp16-weights.ts";
import { tiedHeadFor, type WeightCopies } from "./tied-head.ts";
import { kvFromViews, viewKv } from "./kv-segment.ts";
import { readDecoderConfig } from "./model-config.ts";
import { onnxFileFor, type ModelSpec } from "./registry.ts";
import type { SchedulerOptions } from "./generation-job.ts";
import { PrefixCache, PREFIX_BLOCK_TOKENS } from "./prefix-cache.ts";
import { PrefixReuse } from "./prefix-reuse.ts";
import { Scheduler } from "./scheduler.ts";
import { Tokenizer } from "./tokenizer.ts";

/** A loaded text-generation model: its decoder session, tokenizer, limits, and the scheduler that owns generation. */
export class TextModel {
  readonly kind = "text-generation" as const;
  readonly scheduler: Scheduler<KvBlock>;

  private constructor(
    readonly spec: ModelSpec,
    readonly decoder: Decoder,
    readonly tokenizer: Tokenizer,
    readonly contextLength: number,
    readonly eosIds: ReadonlySet<number>,
    scheduling: SchedulerOptions,
    /** The tied LM head's form (tied-head.ts); undefined when the model has none. */
    readonly tiedHead: "packed" | "shared" | undefined,
  ) {
    const budgetBytes = scheduling.prefixCacheBytes ?? 0;
    const prefixes =
      budgetBytes > 0
        ? new PrefixReuse(new PrefixCache({ budgetBytes, blockTokens: PREFIX_BLOCK_TOKENS }), {
            view: viewKv,
            restore: kvFromViews,
            compact: (source) => decoder.pack([source]),
          })
        : undefined;
    this.scheduler = new Scheduler(decoder, tokenizer, eosIds, scheduling, spec.id, prefixes);
  }

  static async load(spec: ModelSpec, session: SessionSettings, scheduling: SchedulerOptions, memory: WeightCopies = {}): Promise<TextModel> {
    const config = readDecoderConfig(spec.dir);
    const file = onnxFileFor(spec.dtype);
    const path = join(spec.dir, "onnx", file);
    const fp16Weights = memory.fp16Weights ?? "auto";
    const halfWeights = halfWeightsFor(fp16Weights, spec.dtype, path);
    if (halfWeights && fp16Weights === "auto") {
      console.info(`[gpt3dev] ${spec.id}: fp16 weights stay fp16 in memory (widened they would take over half of the free memory); --fp16-weights float32 widens them once, for faster decoding`);
    }
    // Only a rewritten graph can share its tied head: without a cache folder ONNX Runtime packs it.
    const tiedHead = tiedHeadFor(session.cacheDir ? (memory.tiedHead ?? "auto") : "packed", path);
    const [decoder, tokenizer] = await Promise.all([
      Decoder.open(spec.dir, file, config, { ...session, halfWeights, packedHead: tiedHead === "packed" }),
      Tokenizer.load(spec.dir, spec.openaiEncoding),
    ]);
    const contextLength = Math.min(spec.maxContextTokens ?? config.contextLength, config.contextLength);
    const maxBatch = Math.min(scheduling.maxBatch, spec.maxBatch ?? scheduling.maxBatch);
    return new TextModel(spec, decoder, tokenizer, contextLength, new Set(config.eosIds), { ...scheduling, maxBatch }, tiedHead);
  }

  get vocabSize(): number {
    return this.decoder.config.vocabSize;
  }

  /** Releasing the session under a step in flight would crash ONNX Runtime: the scheduler stops first. */
  async release(): Promise<void> {
    await this.scheduler.close();
    await this.decoder.release();
  }
}

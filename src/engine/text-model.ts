import { Decoder } from "./decoder.ts";
import { readDecoderConfig } from "./model-config.ts";
import { onnxFileFor, type ModelSpec } from "./registry.ts";
import { Tokenizer } from "./tokenizer.ts";

/** A loaded text-generation model: its decoder session, tokenizer and limits. */
export class TextModel {
  readonly kind = "text-generation" as const;

  private constructor(
    readonly spec: ModelSpec,
    readonly decoder: Decoder,
    readonly tokenizer: Tokenizer,
    readonly contextLength: number,
    readonly eosIds: ReadonlySet<number>,
  ) {}

  static async load(spec: ModelSpec, intraOpThreads?: number): Promise<TextModel> {
    const config = readDecoderConfig(spec.dir);
    const [decoder, tokenizer] = await Promise.all([
      Decoder.open(spec.dir, onnxFileFor(spec.dtype), config, intraOpThreads),
      Tokenizer.load(spec.dir, spec.openaiEncoding),
    ]);
    const contextLength = Math.min(spec.maxContextTokens ?? config.contextLength, config.contextLength);
    return new TextModel(spec, decoder, tokenizer, contextLength, new Set(config.eosIds));
  }

  get vocabSize(): number {
    return this.decoder.config.vocabSize;
  }

  release(): Promise<void> {
    return this.decoder.release();
  }
}

import { loadTokenizer, type PreTrainedTokenizer } from "../runtime/transformers.ts";
import type { TokenDecoder } from "./detokenizer.ts";

/** The model's own tokenizer (tokenizer.json), reduced to what the engine needs. */
export class Tokenizer implements TokenDecoder {
  private constructor(private readonly inner: PreTrainedTokenizer) {}

  static async load(dir: string): Promise<Tokenizer> {
    return new Tokenizer(await loadTokenizer(dir));
  }

  /** Encodes text the way the model was trained to see it (including a BOS token where the tokenizer adds one). */
  encode(text: string): number[] {
    return this.inner.encode(text);
  }

  decode(ids: readonly number[]): string {
    return this.inner.decode(ids as number[], { skip_special_tokens: true });
  }
}

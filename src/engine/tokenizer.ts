import { loadTokenizer, type PreTrainedTokenizer } from "../runtime/transformers.ts";
import type { TokenDecoder } from "./detokenizer.ts";
import {
  detectOpenAIEncoding,
  loadOpenAIEncoding,
  type OpenAIEncoding,
  type OpenAIEncodingName,
} from "./openai-encoding.ts";

export type ChatRole = "system" | "user" | "assistant" | "tool";

/** A chat message in engine terms: text only, roles already normalised (developer → system). */
export interface ChatMessage {
  role: ChatRole;
  content: string;
  name?: string;
  toolCallId?: string;
}

/**
 * The model's own tokenizer (tokenizer.json) and chat template, reduced to what the engine needs. When the tokenizer
 * is one of OpenAI's encodings, text is encoded with gpt-tokenizer so counts match OpenAI's exactly.
 */
export class Tokenizer implements TokenDecoder {
  private constructor(
    private readonly inner: PreTrainedTokenizer,
    readonly openaiEncoding: OpenAIEncoding | undefined,
  ) {}

  /** `encoding`: the registry's choice; otherwise an OpenAI encoding is detected from the vocabulary. */
  static async load(dir: string, encoding?: OpenAIEncodingName): Promise<Tokenizer> {
    const inner = await loadTokenizer(dir);
    const openai = encoding
      ? await loadOpenAIEncoding(encoding)
      : await detectOpenAIEncoding(inner.get_vocab().size, (text) => inner.encode(text, { add_special_tokens: false }));
    return new Tokenizer(inner, openai);
  }

  /** Encodes text the way the model was trained to see it (by default with a BOS token where the tokenizer adds one). */
  encode(text: string, addSpecialTokens = true): number[] {
    if (this.openaiEncoding) return this.openaiEncoding.encode(text);
    return this.inner.encode(text, { add_special_tokens: addSpecialTokens });
  }

  decode(ids: readonly number[]): string {
    // Clean-up would rewrite text that was already streamed (" ," → ","), so it stays off.
    return this.inner.decode(ids as number[], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  hasChatTemplate(override?: string): boolean {
    return Boolean(override ?? this.inner.chat_template);
  }

  /**
   * Renders messages with the model's chat template (or `template`), ending with the assistant's generation prompt,
   * and tokenizes the result without adding special tokens again: the template writes them itself.
   */
  renderChat(messages: readonly ChatMessage[], template?: string): number[] {
    const conversation = messages.map(({ role, content, name, toolCallId }) => ({
      role,
      content,
      ...(name === undefined ? {} : { name }),
      ...(toolCallId === undefined ? {} : { tool_call_id: toolCallId }),
    }));
    const text = this.inner.apply_chat_template(conversation, {
      tokenize: false,
      add_generation_prompt: true,
      ...(template === undefined ? {} : { chat_template: template }),
    }) as string;
    return this.encode(text, false);
  }
}

import { loadTokenizer, type ModelTokenizer } from "../runtime/model-tokenizer.ts";
import type { ToolCall, ToolDefinition } from "./constraints/structured-request.ts";
import { withDefaultToolPrompt } from "./constraints/tool-prompt.ts";
import { InvalidInputError, TemplateRenderError } from "./errors.ts";
import { vocabBytes } from "./byte-level.ts";
import { ByteLevelDecoder } from "./byte-level-decode.ts";
import type { TokenDescriber } from "./token-logprobs.ts";
import {
  detectOpenAIEncoding,
  loadOpenAIEncoding,
  R50K_FINGERPRINT,
  r50kThrough,
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
  /** Calls an assistant message made (its content may then be empty). */
  toolCalls?: ToolCall[];
}

/**
 * The model's own tokenizer (tokenizer.json) and chat template, reduced to what the engine needs. When the tokenizer
 * is one of OpenAI's encodings, text is encoded as that encoding (with gpt-tokenizer, or GPT-2's own tokenizer for
 * r50k_base) so counts match OpenAI's exactly.
 */
export class Tokenizer implements TokenDescriber {
  /** Vocabulary strings by id, built on first use (logprobs only). */
  private vocabulary: string[] | undefined;
  /** decode() without transformers.js's per-call work, for byte-level tokenizers (same text: byte-level-decode.ts). */
  private readonly byteLevel: ByteLevelDecoder | undefined;

  private constructor(
    private readonly inner: ModelTokenizer,
    readonly openaiEncoding: OpenAIEncoding | undefined,
  ) {
    this.byteLevel = ByteLevelDecoder.of(inner);
  }

  /**
   * `encoding`: the registry's choice; otherwise an OpenAI encoding is detected from the vocabulary. GPT-2's own
   * tokenizer (known by its fingerprint) is r50k_base and encodes for it.
   */
  static async load(dir: string, encoding?: OpenAIEncodingName): Promise<Tokenizer> {
    const inner = await loadTokenizer(dir);
    const own = (text: string) => inner.encode(text, { add_special_tokens: false });
    const openai =
      (encoding ?? "r50k_base") === "r50k_base" && inner.fingerprint === R50K_FINGERPRINT
        ? r50kThrough(own)
        : encoding
          ? await loadOpenAIEncoding(encoding)
          : await detectOpenAIEncoding(inner.get_vocab().size, own);
    return new Tokenizer(inner, openai);
  }

  /** Encodes text the way the model was trained to see it (by default with a BOS token where the tokenizer adds one). */
  encode(text: string, addSpecialTokens = true): number[] {
    if (this.openaiEncoding) return this.openaiEncoding.encode(text);
    return this.inner.encode(text, { add_special_tokens: addSpecialTokens });
  }

  decode(ids: readonly number[]): string {
    const fast = ids.length > 0 ? this.byteLevel?.decode(ids) : undefined;
    if (fast !== undefined) return fast;
    // Clean-up would rewrite text that was already streamed (" ," → ","), so it stays off.
    return this.inner.decode(ids as number[], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  /**
   * Each token's text as it reads inside a longer output (undefined past the tokenizer's vocabulary), for the token
   * masks of constrained decoding. Byte-level vocabularies (GPT-2 style) are mapped directly, which takes
   * milliseconds; others decode token by token (about 40 µs a token).
   */
  tokenTexts(size: number): (string | undefined)[] {
    const texts = new Array<string | undefined>(size).fill(undefined);
    const special = new Set<number>(this.inner.all_special_ids);
    const json = (this.inner as unknown as { _tokenizerJSON?: { decoder?: { type?: string }; added_tokens?: { id: number }[] } })._tokenizerJSON;
    if (json?.decoder?.type === "ByteLevel") {
      const added = new Set((json.added_tokens ?? []).map((t) => t.id));
      const bytes = byteLevelDecoder();
      const utf8 = new TextDecoder("utf-8", { fatal: false });
      for (const [token, id] of this.inner.get_vocab() as Map<string, number>) {
        if (id >= size) continue;
        if (special.has(id)) texts[id] = "";
        else if (added.has(id)) texts[id] = token;
        else {
          const raw = Array.from(token, (c) => bytes.get(c) ?? 0);
          texts[id] = raw.every((b) => b < 0x80) ? String.fromCharCode(...raw) : utf8.decode(Uint8Array.from(raw));
        }
      }
      return texts;
    }
    for (let id = 0; id < size; id++) texts[id] = special.has(id) ? "" : this.decode([id]);
    return texts;
  }

  /** A token's exact bytes, read from its vocabulary string (byte-level BPE or byte fallback); else undefined. */
  tokenBytes(id: number): number[] | undefined {
    if (!this.vocabulary) {
      this.vocabulary = [];
      for (const [token, at] of this.inner.get_vocab()) this.vocabulary[at] = token;
    }
    const token = this.vocabulary[id];
    return token === undefined ? undefined : vocabBytes(token);
  }

  hasChatTemplate(override?: string): boolean {
    return Boolean(override ?? this.inner.chat_template);
  }

  /** The template the model itself ships (tokenizer_config.json), for error messages and tests. */
  get ownTemplate(): string | undefined {
    return typeof this.inner.chat_template === "string" ? this.inner.chat_template : undefined;
  }

  /**
   * Renders messages with the model's chat template (or `template`), ending with the assistant's generation prompt,
   * and tokenizes the result without adding special tokens again: the template writes them itself. `tools` (and
   * tool calls and results in the conversation) go to a template that renders tools; for any other template they
   * are written in with the default tool prompt (constraints/tool-prompt.ts). `variables` are extra names the
   * template can read (e.g. `enable_thinking`); a template that fails to parse or render throws TemplateRenderError.
   */
  renderChat(
    messages: readonly ChatMessage[],
    template?: string,
    tools?: readonly ToolDefinition[],
    variables: Readonly<Record<string, unknown>> = {},
  ): number[] {
    const source = template ?? JSON.stringify(this.inner.chat_template ?? "");
    const native = /\btools\b/.test(source);
    const conversation = (native ? messages : withDefaultToolPrompt(messages, tools)).map(({ role, content, name, toolCallId, toolCalls }) => ({
      role,
      content,
      ...(name === undefined ? {} : { name }),
      ...(toolCallId === undefined ? {} : { tool_call_id: toolCallId }),
      ...(toolCalls === undefined || toolCalls.length === 0
        ? {}
        : { tool_calls: toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: parseArguments(c.arguments) } })) }),
    }));
    const reserved = Object.keys(variables).find((name) => RESERVED_TEMPLATE_VARIABLES.has(name));
    if (reserved !== undefined) {
      throw new InvalidInputError(`'${reserved}' is set by the server and cannot be given as a template variable`, `templateVariables.${reserved}`);
    }
    let text: string;
    try {
      text = this.inner.apply_chat_template(conversation, {
        ...variables,
        tokenize: false,
        add_generation_prompt: true,
        ...(template === undefined ? {} : { chat_template: template }),
        ...(native && tools && tools.length > 0
          ? { tools: tools.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } })) }
          : {}),
      }) as string;
    } catch (error) {
      throw new TemplateRenderError(error instanceof Error ? error.message : String(error));
    } finally {
      if (template !== undefined) this.forgetCompiledTemplates();
    }
    if (typeof text !== "string") throw new TemplateRenderError(`the template produced ${typeof text}, not text`);
    return this.encode(text, false);
  }

  /**
   * transformers.js keeps every template it compiled, keyed by its text, for good: templates sent with requests
   * would pile up there. The most recent few stay (a client usually repeats its template); older ones are dropped.
   */
  private forgetCompiledTemplates(): void {
    const cache = (this.inner as unknown as { _compiled_template_cache?: Map<string, unknown> })._compiled_template_cache;
    if (!(cache instanceof Map) || cache.size <= COMPILED_TEMPLATES_KEPT) return;
    for (const key of cache.keys()) {
      if (cache.size <= COMPILED_TEMPLATES_KEPT) break;
      if (key !== this.inner.chat_template) cache.delete(key);
    }
  }
}

const COMPILED_TEMPLATES_KEPT = 8;

/**
 * Names the server itself gives the template (the conversation, tools, the generation prompt) or that
 * transformers.js's apply_chat_template reads as options: extra variables may not replace them.
 */
export const RESERVED_TEMPLATE_VARIABLES: ReadonlySet<string> = new Set([
  "messages", "tools", "documents", "add_generation_prompt", "chat_template", "tokenize", "padding", "truncation",
  "max_length", "return_tensor", "return_dict", "tokenizer_kwargs",
]);

/** Templates index into arguments as an object (Hugging Face's convention); text that is not JSON stays text. */
function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

let byteLevelTable: Map<string, number> | undefined;

/** GPT-2's bytes_to_unicode, inverted: the character a byte-level vocabulary writes for each byte. */
function byteLevelDecoder(): Map<string, number> {
  if (byteLevelTable) return byteLevelTable;
  const table = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table.set(String.fromCodePoint(printable ? b : 256 + extra++), b);
  }
  return (byteLevelTable = table);
}

/**
 * A model's own tokenizer (tokenizer.json + tokenizer_config.json) and chat template, for text models, embedders and
 * classifiers.
 *
 * It is the part of transformers.js's PreTrainedTokenizer the engine uses, with the same names and behaviour, built
 * directly on the two libraries transformers.js builds it on (@huggingface/tokenizers, @huggingface/jinja). Loading
 * all of transformers.js costs a worker about 15 MiB of code and heap (measured in the compiled server) for model
 * classes and pipelines a text model never uses; speech models still load it (src/runtime/speech-models.ts).
 * test/runtime/tokenizer-tables.test.ts checks encode, decode, the vocabulary and chat templates against
 * transformers.js on every fixture tokenizer.
 */
import { readFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { compactMergeRanks } from "./bpe-merge-ranks.ts";
import { byteLevelBpeFingerprint } from "./tokenizer-fingerprint.ts";

/** tokenizer_config.json, as far as it is read here. */
export interface TokenizerConfig {
  chat_template?: string | { name: string; template: string }[] | null;
  model_max_length?: number;
  [key: string]: unknown;
}

/** The special-token fields of tokenizer_config.json a chat template can read (transformers.js passes the same). */
const SPECIAL_TOKEN_ATTRIBUTES = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

export interface ChatTemplateOptions {
  tools?: unknown[] | null;
  documents?: unknown[] | null;
  chat_template?: string | null;
  add_generation_prompt?: boolean;
  /** Only false: the engine tokenizes the rendered text itself. */
  tokenize: false;
  [variable: string]: unknown;
}

export class ModelTokenizer {
  /** The tokenizer proper: normalizer, pre-tokenizer, model, post-processor, decoder. */
  readonly _tokenizer: Tokenizer;
  /** One template, or named templates (tokenizer_config.json's list form). */
  readonly chat_template: string | Record<string, string> | null;
  readonly all_special_ids: number[];
  readonly pad_token_id: number | undefined;
  /** Compiled templates by their text (src/engine/tokenizer.ts bounds it for templates sent with requests). */
  readonly _compiled_template_cache = new Map<string, Template>();
  /** For a byte-level BPE tokenizer: what decides its ids, hashed (src/runtime/tokenizer-fingerprint.ts). */
  readonly fingerprint: string | undefined;

  constructor(
    readonly _tokenizerJSON: Record<string, unknown>,
    readonly config: TokenizerConfig,
  ) {
    this.fingerprint = byteLevelBpeFingerprint(_tokenizerJSON);
    this._tokenizer = new Tokenizer(_tokenizerJSON, config);
    const pad = tokenFromConfig(config, "pad_token", "eos_token");
    this.pad_token_id = pad === null ? undefined : this._tokenizer.token_to_id(pad);
    const template = config.chat_template ?? null;
    if (Array.isArray(template)) {
      const named: Record<string, string> = Object.create(null);
      for (const { name, template: text } of template) {
        if (typeof name !== "string" || typeof text !== "string") {
          throw new Error('Chat template must be a list of objects with "name" and "template" properties');
        }
        named[name] = text;
      }
      this.chat_template = named;
    } else {
      this.chat_template = template;
    }
    this.all_special_ids = [...this._tokenizer.get_added_tokens_decoder().values()].filter((t) => t.special).map((t) => t.id);
  }

  get model_max_length(): number {
    return this.config.model_max_length ?? Infinity;
  }

  get_vocab(): Map<string, number> {
    return this._tokenizer.get_vocab();
  }

  encode(text: string, { add_special_tokens = true }: { add_special_tokens?: boolean } = {}): number[] {
    return this._tokenizer.encode(text, { text_pair: null, add_special_tokens, return_token_type_ids: null }).ids;
  }

  decode(ids: number[], { skip_special_tokens = false, clean_up_tokenization_spaces = null }: DecodeOptions = {}): string {
    if (!Array.isArray(ids) || ids.length === 0 || !Number.isInteger(ids[0])) {
      throw new Error("token_ids must be a non-empty array of integers.");
    }
    return this._tokenizer.decode(ids, { skip_special_tokens, clean_up_tokenization_spaces });
  }

  /** Renders a conversation with the model's template (or `chat_template`: a template's text or name) to text. */
  apply_chat_template(conversation: unknown[], options: ChatTemplateOptions): string {
    const { tools = null, documents = null, chat_template = null, add_generation_prompt = false, tokenize, ...variables } = options;
    if (tokenize !== false) throw new Error("apply_chat_template renders text only (tokenize: false)");
    const source = this.templateText(chat_template, tools);
    let compiled = this._compiled_template_cache.get(source);
    if (compiled === undefined) {
      compiled = new Template(source);
      this._compiled_template_cache.set(source, compiled);
    }
    const specialTokens: Record<string, string> = Object.create(null);
    for (const key of SPECIAL_TOKEN_ATTRIBUTES) {
      const value = tokenFromConfig(this.config, key);
      if (value) specialTokens[key] = value;
    }
    return compiled.render({ messages: conversation, add_generation_prompt, tools, documents, ...specialTokens, ...variables });
  }

  /** transformers.js's get_chat_template: a named template, the `tool_use` one when tools are given, else `default`. */
  private templateText(requested: string | null, tools: unknown[] | null): string {
    const own = this.chat_template;
    let text: unknown = requested;
    if (own && typeof own === "object") {
      if (requested !== null && Object.hasOwn(own, requested)) text = own[requested];
      else if (requested === null) {
        if (tools !== null && "tool_use" in own) text = own.tool_use;
        else if ("default" in own) text = own.default;
        else {
          throw new Error(
            "This model has multiple chat templates with no default specified! Please either pass a chat template or the " +
              `name of the template you wish to use to the 'chat_template' argument. Available template names are ${Object.keys(own).sort()}.`,
          );
        }
      }
    } else if (requested === null) {
      if (!own) throw new Error("Cannot use apply_chat_template() because tokenizer.chat_template is not set and no template argument was passed!");
      text = own;
    }
    if (typeof text !== "string") throw new Error(`chat_template must be a string, but got ${typeof text}`);
    return text;
  }
}

interface DecodeOptions {
  skip_special_tokens?: boolean;
  clean_up_tokenization_spaces?: boolean | null;
}

/**
 * The first of `keys` set in the config, as text. A token written as an object gives its `content`: transformers.js
 * reads only objects marked `"__type": "AddedToken"` and refuses the model otherwise, but configs saved by newer
 * versions of Hugging Face's libraries leave the mark out, and Python's transformers reads them.
 */
function tokenFromConfig(config: TokenizerConfig, ...keys: string[]): string | null {
  for (const key of keys) {
    if (!Object.hasOwn(config, key)) continue;
    const item = config[key];
    if (!item) continue;
    if (typeof item === "object") {
      const content = (item as { content?: unknown }).content;
      if (typeof content === "string") return content;
      throw new Error(`tokenizer_config.json: ${key} is neither text nor a token with "content": ${JSON.stringify(item)}`);
    }
    return String(item);
  }
  return null;
}

/**
 * Loads `tokenizer.json` and `tokenizer_config.json` from a local model folder, without the tables only the build
 * reads and with BPE merge ranks kept by token ids (GPT-2's 50,257-token tokenizer: 29 MiB as the library builds it,
 * 12 MiB loaded here; same encoding).
 */
export async function loadTokenizer(absModelDir: string): Promise<ModelTokenizer> {
  if (!isAbsolute(absModelDir)) throw new Error(`loadTokenizer needs an absolute folder path, got "${absModelDir}"`);
  const json = JSON.parse(await readFile(join(absModelDir, "tokenizer.json"), "utf8")) as Record<string, unknown>;
  const config = JSON.parse(await readFile(join(absModelDir, "tokenizer_config.json"), "utf8")) as TokenizerConfig;
  const tokenizer = new ModelTokenizer(json, config);
  compactMergeRanks(tokenizerModel(tokenizer));
  releaseBuildTables(tokenizer);
  return tokenizer;
}

/** The tokenization model (BPE, WordPiece, ...) inside a tokenizer built by @huggingface/tokenizers. */
export function tokenizerModel(tokenizer: { _tokenizer?: unknown }): unknown {
  return (tokenizer._tokenizer as { model?: unknown } | undefined)?.model;
}

/** The fields of a BPE model read only while it is built (its constructor). */
interface BpeModelBuildState {
  bpe_ranks?: unknown;
  merges?: unknown;
  config?: { merges?: unknown; vocab?: unknown };
}

/**
 * Lets go of what a BPE tokenizer needs only while it is built: the parsed `merges` list (and its split copy) and the
 * vocabulary object of tokenizer.json, from which the library has already made the maps it encodes and decodes with
 * (`bpe_ranks`, `tokens_to_ids`, `vocab`). For GPT-2's 50,257 tokens this is 10 MiB; encoding, decoding and the
 * vocabulary are unchanged (test/runtime/tokenizer-tables.test.ts).
 */
export function releaseBuildTables(tokenizer: { _tokenizer?: unknown }): void {
  const model = tokenizerModel(tokenizer) as BpeModelBuildState | undefined;
  // A BPE model: its ranks are built (as a Map, or compacted by bpe-merge-ranks.ts) from `merges`.
  if (!model || model.bpe_ranks === undefined || !Array.isArray(model.merges)) return;
  delete model.merges;
  if (model.config) {
    delete model.config.merges;
    delete model.config.vocab;
  }
}

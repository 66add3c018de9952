/**
 * `decode(ids)` of a byte-level BPE tokenizer (GPT-2, Qwen, Llama 3 style: tokenizer.json's decoder is `ByteLevel`)
 * with special tokens skipped and no clean-up, as transformers.js computes it, from a table made once per tokenizer.
 * transformers.js builds a character array per call and searches the added tokens per token (about 30 µs for one id,
 * 75 µs for six); the incremental detokenizer decodes twice per generated token and row. The rules it follows:
 * ids map to vocabulary strings (added tokens included); special tokens' strings are dropped; an added token's string
 * is written as it is; runs of other tokens become bytes through the byte-level alphabet (a character outside it is
 * byte 0) and are decoded as UTF-8 with U+FFFD for invalid bytes and a leading BOM kept.
 */
import { UNICODE_TO_BYTE } from "./byte-level.ts";

/** What the decode of one id contributes (`kinds`): not in the table, nothing (special), its text, or its bytes. */
const UNKNOWN = 0;
const SPECIAL = 1;
const TEXT = 2;
const BYTES = 3;

/** The parts of the model's tokenizer this reads (`ModelTokenizer._tokenizer`, `_tokenizerJSON`, as transformers.js names them). */
interface CoreTokenizer {
  model?: { vocab?: unknown };
  special_tokens?: unknown;
  added_tokens?: unknown;
  decoder?: { end_of_word_suffix?: unknown } | null;
}

/**
 * The table is flat: every byte-level token's bytes in one buffer, found through offsets (one small array per token
 * would cost 4–5 MiB for GPT-2's 50,257 tokens; this costs under 1).
 */
export class ByteLevelDecoder {
  private readonly utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  private bytes = new Uint8Array(256);

  private constructor(
    private readonly kinds: Uint8Array,
    /** Token id's bytes are `data[starts[id]] … data[starts[id + 1] - 1]`. */
    private readonly starts: Uint32Array,
    private readonly data: Uint8Array,
    private readonly texts: ReadonlyMap<number, string>,
  ) {}

  /**
   * The table for `tokenizer` (src/runtime/model-tokenizer.ts, or a transformers.js tokenizer), or undefined when its decode is not exactly
   * byte-level (another decoder, an end-of-word suffix, a decode method of its own): it then decodes as it does.
   */
  static of(tokenizer: unknown): ByteLevelDecoder | undefined {
    const t = tokenizer as { _tokenizer?: CoreTokenizer; _tokenizerJSON?: { decoder?: { type?: unknown } | null }; decode?: unknown };
    const core = t._tokenizer;
    if (t._tokenizerJSON?.decoder?.type !== "ByteLevel" || !core?.decoder || core.decoder.end_of_word_suffix) return undefined;
    if (!decodesAsTheBaseClass(tokenizer)) return undefined;
    const vocab = core.model?.vocab;
    const special = core.special_tokens;
    const added = core.added_tokens;
    if (!Array.isArray(vocab) || !Array.isArray(special) || !Array.isArray(added)) return undefined;
    const specials = new Set(special.filter((s): s is string => typeof s === "string"));
    const addedTexts = new Set(added.map((a: { content?: unknown }) => a?.content).filter((s): s is string => typeof s === "string"));
    const kinds = new Uint8Array(vocab.length);
    const starts = new Uint32Array(vocab.length + 1);
    const texts = new Map<number, string>();
    let data = new Uint8Array(vocab.length * 4);
    let size = 0;
    for (let id = 0; id < vocab.length; id++) {
      starts[id] = size;
      const token: unknown = vocab[id];
      // Unknown ids, and (never seen in practice) strings with surrogate halves, which could pair up across tokens
      // once joined: those decode through transformers.js.
      if (typeof token !== "string" || /[\ud800-\udfff]/.test(token)) continue;
      if (specials.has(token)) kinds[id] = SPECIAL;
      else if (addedTexts.has(token)) {
        kinds[id] = TEXT;
        texts.set(id, token);
      } else {
        kinds[id] = BYTES;
        if (size + token.length > data.length) {
          const grown = new Uint8Array(Math.max(data.length * 2, size + token.length));
          grown.set(data.subarray(0, size));
          data = grown;
        }
        for (const ch of token) data[size++] = UNICODE_TO_BYTE.get(ch) ?? 0;
      }
    }
    starts[vocab.length] = size;
    return new ByteLevelDecoder(kinds, starts, data.slice(0, size), texts);
  }

  /** The text of `ids`, or undefined when one of them is not in the table (the caller decodes it the long way). */
  decode(ids: readonly number[]): string | undefined {
    const { kinds, starts, data } = this;
    let text = "";
    let length = 0;
    for (const id of ids) {
      const kind = kinds[id] ?? UNKNOWN;
      if (kind === UNKNOWN) return undefined;
      if (kind === SPECIAL) continue;
      if (kind === TEXT) {
        if (length > 0) text += this.utf8.decode(this.bytes.subarray(0, length));
        length = 0;
        text += this.texts.get(id)!;
        continue;
      }
      const start = starts[id]!;
      const end = starts[id + 1]!;
      if (length + end - start > this.bytes.length) {
        const grown = new Uint8Array(Math.max(this.bytes.length * 2, length + end - start));
        grown.set(this.bytes.subarray(0, length));
        this.bytes = grown;
      }
      for (let i = start; i < end; i++) this.bytes[length++] = data[i]!;
    }
    if (length > 0) text += this.utf8.decode(this.bytes.subarray(0, length));
    return text;
  }
}

/**
 * Whether the tokenizer's `decode` (and `decode_single`, which transformers.js's tokenizers have) is the one its base
 * class defines: a subclass's own (transformers.js's Whisper tokenizer, for one) may decode differently.
 */
function decodesAsTheBaseClass(tokenizer: unknown): boolean {
  return ["decode", "decode_single"].every((name) => {
    let proto: object | null = Object.getPrototypeOf(tokenizer);
    let base: unknown;
    while (proto && proto !== Object.prototype) {
      if (Object.hasOwn(proto, name)) base = (proto as Record<string, unknown>)[name];
      proto = Object.getPrototypeOf(proto);
    }
    const own = (tokenizer as Record<string, unknown>)[name];
    return name === "decode" ? base !== undefined && own === base : own === base;
  });
}

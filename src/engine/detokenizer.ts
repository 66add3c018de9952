/**
 * Turns a stream of generated token ids into a stream of text pieces.
 *
 * Decoding tokens one at a time is wrong in two ways: byte-level tokens can
 * split a UTF-8 character (decoding half of it yields U+FFFD), and tokenizers
 * such as SentencePiece render a token differently at the start of a string
 * (the leading space of "▁word" is dropped). So, as in vLLM and TGI, each
 * step decodes a short window that starts a little before the unread tokens
 * and emits only the part past the already-read text, and only once it no
 * longer ends in an incomplete character.
 */

/** The model tokenizer's decode, with special tokens skipped. */
export interface TokenDecoder {
  decode(ids: readonly number[]): string;
}

const REPLACEMENT = "\ufffd";
/** Ids kept as leading context (vLLM's initial prefix offset); enough for word-start effects. */
const CONTEXT_IDS = 5;
/**
 * A valid character needs at most 4 byte tokens, so more pending ids than this
 * that still end in U+FFFD mean invalid bytes (or tokens chaining partial
 * characters); the part before the final U+FFFD is then emitted without waiting.
 */
const MAX_PENDING = 6;
/** Past this many pending ids everything is committed as is, so per-token work stays bounded. */
const MAX_WINDOW = 32;

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

export class IncrementalDetokenizer {
  private readonly generated: number[] = [];
  /** Ids from the prefix offset onwards; older ids are dropped as the offsets advance. */
  private window: number[];
  /** Index in `window` of the first id whose text has not been emitted. */
  private readOffset: number;
  /** decode(window[0:readOffset]): the context that every new decode is diffed against. */
  private prefixText: string;
  /** Characters past `prefixText` already emitted early while waiting on a U+FFFD tail. */
  private emittedPastRead = 0;

  constructor(
    private readonly decoder: TokenDecoder,
    promptIds: readonly number[] = [],
  ) {
    this.window = promptIds.slice(Math.max(0, promptIds.length - CONTEXT_IDS));
    this.readOffset = this.window.length;
    this.prefixText = this.window.length > 0 ? decoder.decode(this.window) : "";
  }

  /** Generated ids so far. */
  get ids(): readonly number[] {
    return this.generated;
  }

  /** Adds one generated id and returns the text it completes (possibly ""). */
  push(id: number): string {
    this.generated.push(id);
    this.window.push(id);
    const text = this.decoder.decode(this.window);
    const pending = this.window.length - this.readOffset;
    const incomplete = text.endsWith(REPLACEMENT);

    if ((!incomplete && text.length > this.prefixText.length) || pending > MAX_WINDOW) {
      const piece = this.unemitted(text);
      this.advance();
      return piece;
    }
    if (incomplete && pending > MAX_PENDING) {
      // Decoders map an unfinished trailing sequence to a single final U+FFFD,
      // and the text before it cannot change as more bytes arrive.
      const piece = this.unemitted(text.slice(0, -1));
      this.emittedPastRead += piece.length;
      return piece;
    }
    return "";
  }

  /**
   * End of generation: returns the pending text that decodes to complete
   * characters. A trailing incomplete UTF-8 sequence is dropped rather than
   * emitted as U+FFFD.
   */
  flush(): string {
    if (this.window.length === this.readOffset) return "";
    let text = this.decoder.decode(this.window);
    if (text.endsWith(REPLACEMENT)) text = text.slice(0, -1);
    const piece = this.unemitted(text);
    this.advance();
    return piece;
  }

  private unemitted(text: string): string {
    const start = this.prefixText.length + this.emittedPastRead;
    if (text.length <= start) return "";
    // Only after a forced commit can the context decode differently once more
    // bytes arrive (a U+FFFD becomes half of a surrogate pair); never emit that
    // orphaned half.
    return isLowSurrogate(text.charCodeAt(start)) ? text.slice(start + 1) : text.slice(start);
  }

  /**
   * Marks everything decoded so far as read; the just-read ids (at most the
   * last few, so a long forced commit does not inflate later decodes) become
   * the next prefix.
   */
  private advance(): void {
    this.window = this.window.slice(Math.max(this.readOffset, this.window.length - CONTEXT_IDS));
    this.readOffset = this.window.length;
    this.prefixText = this.decoder.decode(this.window);
    this.emittedPastRead = 0;
  }
}

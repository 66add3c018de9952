import type { TokenDecoder } from "./detokenizer.ts";
import { logSumExp, topLogprobs } from "./logprobs.ts";

/** One token as a client sees it: its id, its text, and its exact bytes when the tokenizer knows them. */
export interface TokenPiece {
  id: number;
  /** The token decoded alone; a token holding part of a UTF-8 character reads `bytes:\xe2\x80` as OpenAI writes it. */
  text: string;
  bytes: number[] | null;
}

export interface RankedPiece extends TokenPiece {
  logprob: number;
}

/** A token of the output (or of an echoed prompt) with its log-probability and the most likely alternatives. */
export interface TokenLogprob extends TokenPiece {
  /** null for a prompt's first token, which nothing predicts. */
  logprob: number | null;
  /** Most likely first; null where `logprob` is. */
  top: RankedPiece[] | null;
}

/** A tokenizer that can also give a token's exact bytes (byte-level BPE pieces of a multi-byte character). */
export interface TokenDescriber extends TokenDecoder {
  tokenBytes?(id: number): number[] | undefined;
}

const REPLACEMENT = "\ufffd";

/**
 * Builds TokenLogprob entries from a row's raw logits. Token texts are cached per id: the same few thousand ids come
 * back again and again, and decoding one costs more than the lookup.
 */
export class LogprobReporter {
  private readonly pieces = new Map<number, TokenPiece>();

  constructor(readonly tokenizer: TokenDescriber) {}

  /** `chosen`'s log-probability under `logits` with the `top` most likely alternatives. */
  report(logits: Float32Array, chosen: number, top: number): TokenLogprob {
    const lse = logSumExp(logits);
    return {
      ...this.piece(chosen),
      logprob: logits[chosen]! - lse,
      top: topLogprobs(logits, top, lse).map(({ id, logprob }) => ({ ...this.piece(id), logprob })),
    };
  }

  /** A token nothing predicts (a prompt's first). */
  unscored(id: number): TokenLogprob {
    return { ...this.piece(id), logprob: null, top: null };
  }

  piece(id: number): TokenPiece {
    let piece = this.pieces.get(id);
    if (!piece) {
      piece = describe(this.tokenizer, id);
      this.pieces.set(id, piece);
    }
    return piece;
  }
}

function describe(tokenizer: TokenDescriber, id: number): TokenPiece {
  const decoded = tokenizer.decode([id]);
  const exact = tokenizer.tokenBytes?.(id);
  if (!decoded.includes(REPLACEMENT)) return { id, text: decoded, bytes: exact ?? [...Buffer.from(decoded, "utf8")] };
  if (!exact) return { id, text: decoded, bytes: null };
  const escaped = exact.map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
  return { id, text: `bytes:${escaped}`, bytes: exact };
}

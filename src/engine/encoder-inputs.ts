// What an encoder (embedder, classifier) reads: token rows cut to its context with the special tokens kept, grouped
// into forward passes, right-padded into the feeds its graph has.
import { int64Tensor, type Tensor } from "../runtime/session.ts";
import type { ModelTokenizer } from "../runtime/model-tokenizer.ts";

// A padded batch costs batch × longest input; above this many cells a request is split into passes of similar
// lengths so that one long input among thousands of short ones cannot exhaust memory.
const MAX_PADDED_TOKENS = 65_536;
// RoBERTa-family position tables start after the padding index, so max_position_embeddings overstates the limit.
const POSITION_OFFSET_TYPES = new Set(["roberta", "xlm-roberta", "camembert"]);

export const finiteNumber = (value: unknown): number | undefined => (typeof value === "number" && Number.isFinite(value) ? value : undefined);

/** What the tokenizer puts around a text (e.g. [CLS] … [SEP]), so a truncated text keeps them. */
export interface SpecialTokens {
  prefix: number[];
  suffix: number[];
}

export function specialTokensAround(tokenizer: ModelTokenizer): SpecialTokens {
  const probe = "hello";
  const bare = tokenizer.encode(probe, { add_special_tokens: false });
  const full = tokenizer.encode(probe);
  for (let start = 0; start + bare.length <= full.length; start++) {
    if (bare.every((id, k) => full[start + k] === id)) {
      return { prefix: full.slice(0, start), suffix: full.slice(start + bare.length) };
    }
  }
  return { prefix: [], suffix: [] };
}

/** `text` as `contextLength` tokens at most: its own tokens cut, the special tokens around them kept. */
export function truncatedIds(tokenizer: ModelTokenizer, text: string, contextLength: number, { prefix, suffix }: SpecialTokens): number[] {
  const body = tokenizer.encode(text, { add_special_tokens: false });
  return [...prefix, ...body.slice(0, Math.max(0, contextLength - prefix.length - suffix.length)), ...suffix];
}

/**
 * The pad id, and the longest input the encoder reads: the least of its position table (counted after the padding
 * index for RoBERTa-style models), the registry's cap and the tokenizer's model_max_length (unless a placeholder).
 */
export function encoderLimits(
  config: Record<string, unknown>,
  positions: number | undefined,
  tokenizer: ModelTokenizer,
  maxContextTokens: number | undefined,
): { padId: number; contextLength: number } {
  const padId = tokenizer.pad_token_id ?? finiteNumber(config.pad_token_id) ?? 0;
  const offset = POSITION_OFFSET_TYPES.has(String(config.model_type)) ? padId + 1 : 0;
  const tokenizerMax = finiteNumber(tokenizer.model_max_length);
  const limits = [(positions ?? Infinity) - offset, maxContextTokens ?? Infinity, tokenizerMax !== undefined && tokenizerMax < 1e6 ? tokenizerMax : Infinity];
  return { padId, contextLength: Math.min(...limits) };
}

/**
 * Row indices grouped into forward passes: all rows in one pass when the padded batch fits the budget (the usual
 * case), otherwise rows of similar length together so little of each pass is padding.
 */
export function passes(rows: readonly (readonly number[])[], budget = MAX_PADDED_TOKENS): number[][] {
  const longest = Math.max(...rows.map((ids) => ids.length));
  if (rows.length * longest <= budget) return [rows.map((_, i) => i)];
  const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.length - rows[b]!.length);
  const groups: number[][] = [];
  let current: number[] = [];
  for (const index of order) {
    // Sorted ascending, so the row being added is the longest of its group.
    if (current.length > 0 && (current.length + 1) * rows[index]!.length > budget) {
      groups.push(current);
      current = [];
    }
    current.push(index);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

export interface PaddedBatch {
  /** input_ids, and attention_mask / token_type_ids / position_ids where the graph takes them. */
  feeds: Record<string, Tensor>;
  /** 1 for a real token, 0 for padding, row after row. */
  mask: number[];
  batch: number;
  seq: number;
}

/** Rows right-padded with `padId` to the longest, as the feeds the graph's inputs (`inputNames`) ask for. */
export function paddedFeeds(rows: readonly number[][], padId: number, inputNames: ReadonlySet<string>): PaddedBatch {
  const batch = rows.length;
  const seq = Math.max(...rows.map((ids) => ids.length));
  const ids: number[] = [];
  const mask: number[] = [];
  for (const row of rows) {
    for (let s = 0; s < seq; s++) {
      const real = s < row.length;
      ids.push(real ? row[s]! : padId);
      mask.push(real ? 1 : 0);
    }
  }
  const dims = [batch, seq];
  const feeds: Record<string, Tensor> = { input_ids: int64Tensor(ids, dims) };
  if (inputNames.has("attention_mask")) feeds.attention_mask = int64Tensor(mask, dims);
  if (inputNames.has("token_type_ids")) feeds.token_type_ids = int64Tensor(new Array<number>(ids.length).fill(0), dims);
  if (inputNames.has("position_ids")) feeds.position_ids = int64Tensor(ids.map((_, i) => i % seq), dims);
  return { feeds, mask, batch, seq };
}

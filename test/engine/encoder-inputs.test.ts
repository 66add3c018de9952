import { beforeAll, describe, expect, it } from "bun:test";
import { resolve } from "node:path";
import { encoderLimits, paddedFeeds, passes, specialTokensAround, truncatedIds } from "../../src/engine/encoder-inputs.ts";
import { loadTokenizer, type ModelTokenizer } from "../../src/runtime/model-tokenizer.ts";

const TINY_BERT = resolve(import.meta.dir, "../../models/tiny-bert");

describe("passes", () => {
  const rows = (...lengths: number[]) => lengths.map((n) => new Array<number>(n).fill(1));

  it("keeps the whole batch in one pass when it fits the budget", () => {
    expect(passes(rows(3, 1, 2), 9)).toEqual([[0, 1, 2]]);
  });

  it("splits a batch that does not fit into passes of similar lengths", () => {
    // Sorted by length: 1 (#1), 2 (#2), 3 (#0), 5 (#3); budget 6 → [1,2,3]=3×3=9 too many, so [1,2] then [3] then [5].
    expect(passes(rows(3, 1, 2, 5), 6)).toEqual([[1, 2], [0], [3]]);
    expect(passes(rows(2, 2, 2, 2), 4)).toEqual([[0, 1], [2, 3]]);
  });
});

describe("paddedFeeds", () => {
  const values = (feeds: ReturnType<typeof paddedFeeds>["feeds"]) =>
    Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, { dims: t.dims, data: Array.from(t.data as BigInt64Array, Number) }]));

  it("right-pads every row to the longest with the pad id and masks the padding out", () => {
    const batch = paddedFeeds([[5, 6, 7], [8]], 9, new Set(["input_ids", "attention_mask"]));
    expect({ batch: batch.batch, seq: batch.seq, mask: batch.mask }).toEqual({ batch: 2, seq: 3, mask: [1, 1, 1, 1, 0, 0] });
    expect(values(batch.feeds)).toEqual({
      input_ids: { dims: [2, 3], data: [5, 6, 7, 8, 9, 9] },
      attention_mask: { dims: [2, 3], data: [1, 1, 1, 1, 0, 0] },
    });
  });

  it("feeds exactly the inputs the graph has: token types all 0, positions counted per row", () => {
    expect(values(paddedFeeds([[5], [6, 7]], 0, new Set(["input_ids"])).feeds)).toEqual({ input_ids: { dims: [2, 2], data: [5, 0, 6, 7] } });
    const all = paddedFeeds([[5], [6, 7]], 0, new Set(["input_ids", "attention_mask", "token_type_ids", "position_ids"]));
    expect(values(all.feeds)).toEqual({
      input_ids: { dims: [2, 2], data: [5, 0, 6, 7] },
      attention_mask: { dims: [2, 2], data: [1, 0, 1, 1] },
      token_type_ids: { dims: [2, 2], data: [0, 0, 0, 0] },
      position_ids: { dims: [2, 2], data: [0, 1, 0, 1] },
    });
  });
});

describe("truncation and limits (tiny-bert's WordPiece tokenizer)", () => {
  let tokenizer: ModelTokenizer;
  beforeAll(async () => {
    tokenizer = await loadTokenizer(TINY_BERT);
  });

  it("cuts a text's own tokens and keeps [CLS] … [SEP] around them", () => {
    const around = specialTokensAround(tokenizer);
    // tiny-bert's vocabulary: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3.
    expect(around).toEqual({ prefix: [2], suffix: [3] });
    const text = "the morning was cold and the road was long";
    const full = tokenizer.encode(text);
    expect(full.length).toBeGreaterThan(6);
    expect(truncatedIds(tokenizer, text, 5, around)).toEqual([...full.slice(0, 4), full.at(-1)!]);
  });

  it("takes the least of the position table (after the padding index for RoBERTa), the registry's cap and the tokenizer's", () => {
    expect(encoderLimits({ model_type: "bert" }, 100, tokenizer, undefined)).toEqual({ padId: 0, contextLength: 100 });
    expect(encoderLimits({ model_type: "xlm-roberta" }, 100, tokenizer, undefined)).toEqual({ padId: 0, contextLength: 99 });
    expect(encoderLimits({ model_type: "bert" }, 512, tokenizer, 64)).toEqual({ padId: 0, contextLength: 64 });
    expect(encoderLimits({ model_type: "bert" }, undefined, tokenizer, undefined)).toEqual({ padId: 0, contextLength: 128 });
  });
});

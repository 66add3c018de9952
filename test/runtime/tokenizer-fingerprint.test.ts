// A byte-level BPE tokenizer's fingerprint: the same for files that encode alike however they are written, different
// when anything that decides the ids differs; and GPT-2's tokenizer, known by it, encodes exactly as gpt-tokenizer's
// r50k_base for any text, so the engine counts with it instead of loading gpt-tokenizer's table.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { encode as r50kEncode } from "gpt-tokenizer/encoding/r50k_base";
import { R50K_FINGERPRINT } from "../../src/engine/openai-encoding.ts";
import { createRng } from "../../src/engine/rng.ts";
import { Tokenizer } from "../../src/engine/tokenizer.ts";
import { byteLevelBpeFingerprint } from "../../src/runtime/tokenizer-fingerprint.ts";

const MODELS = resolve(import.meta.dir, "../../models");
const read = (model: string) => JSON.parse(readFileSync(join(MODELS, model, "tokenizer.json"), "utf8")) as Record<string, any>;

describe("byte-level BPE fingerprint", () => {
  test("GPT-2's tokenizer has r50k_base's; other fixtures have their own or none", () => {
    expect(byteLevelBpeFingerprint(read("gpt2-vocab"))).toBe(R50K_FINGERPRINT);
    expect(byteLevelBpeFingerprint(read("tiny-gpt2"))).not.toBe(R50K_FINGERPRINT);
    expect(byteLevelBpeFingerprint(read("tiny-gpt2"))).toMatch(/^[0-9a-f]{64}$/);
    // WordPiece, not byte-level BPE.
    expect(byteLevelBpeFingerprint(read("tiny-bert"))).toBeUndefined();
  });

  test("the same for another way of writing the same tokenizer: merges as pairs, key order, flags that change no id", () => {
    const json = read("gpt2-vocab");
    const rewritten = {
      added_tokens: json.added_tokens.map((t: Record<string, unknown>) => ({ ...t, normalized: !t.normalized })),
      model: { ...json.model, merges: json.model.merges.map((m: string) => m.split(" ")), continuing_subword_prefix: null, ignore_merges: undefined },
      pre_tokenizer: { ...json.pre_tokenizer, trim_offsets: false },
      normalizer: null,
      decoder: null,
    };
    expect(byteLevelBpeFingerprint(rewritten)).toBe(R50K_FINGERPRINT);
  });

  test("different when the merges' order, a token's id, an added token or the pre-tokenizer differ; none for options that change ids", () => {
    const json = read("gpt2-vocab");
    const merges = [...json.model.merges];
    [merges[100], merges[101]] = [merges[101], merges[100]];
    const vocab = { ...json.model.vocab, "Ġt": json.model.vocab["Ġa"], "Ġa": json.model.vocab["Ġt"] };
    const variants = [
      { ...json, model: { ...json.model, merges } },
      { ...json, model: { ...json.model, vocab } },
      { ...json, added_tokens: [{ ...json.added_tokens[0], lstrip: true }] },
      { ...json, added_tokens: [] },
    ];
    for (const variant of variants) expect(byteLevelBpeFingerprint(variant)).not.toBe(R50K_FINGERPRINT);
    for (const changed of [
      { ...json, pre_tokenizer: { ...json.pre_tokenizer, add_prefix_space: true } },
      { ...json, normalizer: { type: "NFC" } },
      { ...json, model: { ...json.model, byte_fallback: true } },
      { ...json, model: { ...json.model, ignore_merges: true } },
      { ...json, model: { ...json.model, dropout: 0.1 } },
    ]) {
      expect(byteLevelBpeFingerprint(changed)).toBeUndefined();
    }
  });

  test("GPT-2's tokenizer counts as r50k_base does, for any text (gpt-tokenizer as the reference)", async () => {
    const tokenizer = await Tokenizer.load(join(MODELS, "gpt2-vocab"));
    expect(tokenizer.openaiEncoding?.name).toBe("r50k_base");
    const plain = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };
    const pieces = [
      " ", "  ", "\n", "\r\n", "\t", "\u00a0", "\u2028", "\ufeff", "\u3000", "\u200b", "'s", "'S", "'ll", "'LL", "'re", "'ve", "'m", "'d",
      "'t", "''", "hello", "Hello", "WORLD", "123", "4567", "½", "٣", "é", "e\u0301", "😀", "👍🏽", "中文", "日本語", "\ud800", "\udc00", "!",
      "?!", "...", "—", "…", "$", "€", "\u0000", "\u007f", "ﬁ", "Ａ", "ǅ", "ß", "İ", "ا", "עברית", "<|", "|>", "_", "-", "a1", "1a", "x",
    ];
    const next = createRng(31);
    for (let i = 0; i < 4000; i++) {
      const text = i % 2 === 0
        ? Array.from({ length: 1 + Math.floor(next() * 12) }, () => pieces[Math.floor(next() * pieces.length)]).join("")
        : Array.from({ length: 1 + Math.floor(next() * 8) }, () => String.fromCodePoint(Math.floor(next() < 0.7 ? next() * 0x3000 : next() * 0x110000))).join("");
      expect({ text, ids: tokenizer.encode(text) }).toEqual({ text, ids: r50kEncode(text, plain) });
    }
  });
});

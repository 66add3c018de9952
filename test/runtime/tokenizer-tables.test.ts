// A loaded tokenizer lets go of the tables transformers.js reads only while building it (src/runtime/transformers.ts,
// releaseBuildTables): what it encodes, decodes and lists as its vocabulary must not change.
import { describe, expect, it } from "bun:test";
import { join } from "node:path";
import { createRng } from "../../src/engine/rng.ts";
import { AutoTokenizer, loadTokenizer, type PreTrainedTokenizer } from "../../src/runtime/transformers.ts";

const MODELS = join(import.meta.dir, "..", "..", "models");
const FIXTURES = ["gpt2-vocab", "tiny-gpt2", "tiny-llama", "tiny-bert", "tiny-whisper", "tiny-moderation"];
const ALPHABET = [..."abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,;:!?'\"-_()[]{}<>/\\@#$%^&*+=~`|\n\t"];
const EXOTIC = ["é", "ü", "ß", "中", "文", "😀", "👍🏽", "ＡＢ", "…", "\u00a0", "\u200b", "ا", "ж", "🇫🇷", "<|endoftext|>", "</s>", "<s>", "[CLS]"];

function randomText(next: () => number): string {
  const length = 1 + Math.floor(next() * 60);
  let text = "";
  for (let i = 0; i < length; i++) {
    const pool = next() < 0.15 ? EXOTIC : ALPHABET;
    text += pool[Math.floor(next() * pool.length)];
  }
  return text;
}

const bpeModel = (t: PreTrainedTokenizer) =>
  (t as unknown as { _tokenizer: { model: { merges?: unknown; bpe_ranks?: unknown; config?: { vocab?: unknown } } } })._tokenizer.model;

describe("tokenizer build tables", () => {
  for (const fixture of FIXTURES) {
    it(`${fixture}: encodes, decodes and lists its vocabulary as the tokenizer built from the file does`, async () => {
      const dir = join(MODELS, fixture);
      const compact = await loadTokenizer(dir);
      const full = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
      if (bpeModel(full).bpe_ranks instanceof Map) {
        // BPE: the build tables are gone from the loaded tokenizer and still there in the reference.
        expect(bpeModel(compact).merges).toBeUndefined();
        expect(bpeModel(compact).config?.vocab).toBeUndefined();
        expect(Array.isArray(bpeModel(full).merges)).toBe(true);
      }
      expect([...compact.get_vocab()]).toEqual([...full.get_vocab()]);
      const next = createRng(fixture.length * 7919);
      const size = full.get_vocab().size;
      for (let i = 0; i < 300; i++) {
        const text = randomText(next);
        expect(compact.encode(text)).toEqual(full.encode(text));
        expect(compact.encode(text, { add_special_tokens: false })).toEqual(full.encode(text, { add_special_tokens: false }));
        const ids = Array.from({ length: 1 + Math.floor(next() * 20) }, () => Math.floor(next() * size));
        expect(compact.decode(ids)).toEqual(full.decode(ids));
      }
    });
  }
});

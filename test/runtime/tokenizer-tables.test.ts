// A loaded tokenizer lets go of the tables transformers.js reads only while building it (src/runtime/transformers.ts,
// releaseBuildTables) and keeps BPE merge ranks by token ids (src/runtime/bpe-merge-ranks.ts): what it encodes, decodes
// and lists as its vocabulary must not change.
import { describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRng } from "../../src/engine/rng.ts";
import { compactMergeRanks, MergeRankTable } from "../../src/runtime/bpe-merge-ranks.ts";
import { AutoTokenizer, loadTokenizer, tokenizerModel, type PreTrainedTokenizer } from "../../src/runtime/transformers.ts";

const MODELS = join(import.meta.dir, "..", "..", "models");
const FIXTURES = ["gpt2-vocab", "tiny-gpt2", "tiny-llama", "tiny-bert", "tiny-whisper", "tiny-moderation"];
const ALPHABET = [..."abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,;:!?'\"-_()[]{}<>/\\@#$%^&*+=~`|\n\t"];
const EXOTIC = ["é", "ü", "ß", "中", "文", "😀", "👍🏽", "ＡＢ", "…", "\u00a0", "\u200b", "ا", "ж", "🇫🇷", "<|endoftext|>", "</s>", "<s>", "[CLS]"];

/** Long real text: deep merge chains, as random letters rarely make them. */
const PROSE = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8").slice(0, 30_000);

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
        // Merge ranks: a table of id pairs holding every rank the library's string-keyed map holds.
        const ranks = bpeModel(compact).bpe_ranks as { size: number; table: MergeRankTable };
        expect(ranks.table).toBeInstanceOf(MergeRankTable);
        const libraryRanks = bpeModel(full).bpe_ranks as Map<string, number>;
        expect(ranks.size).toBe(libraryRanks.size);
        const vocab = compact.get_vocab() as Map<string, number>;
        for (const [key, rank] of libraryRanks) {
          const [a, b] = JSON.parse(key) as [string, string];
          expect(ranks.table.get(vocab.get(a)!, vocab.get(b)!)).toBe(rank);
        }
      }
      expect([...compact.get_vocab()]).toEqual([...full.get_vocab()]);
      expect(compact.encode(PROSE)).toEqual(full.encode(PROSE));
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

describe("merge rank table", () => {
  it("answers every pair as a Map keyed by the pair does, including pairs set twice and pairs never set", () => {
    const next = createRng(42);
    for (const count of [0, 1, 7, 100, 5000]) {
      const table = new MergeRankTable(count);
      const reference = new Map<string, number>();
      for (let i = 0; i < count; i++) {
        // Small id ranges make repeated pairs (the later rank wins) and hash collisions common.
        const a = Math.floor(next() * 90);
        const b = Math.floor(next() * 90);
        table.set(a, b, i);
        reference.set(`${a},${b}`, i);
      }
      for (let a = 0; a < 100; a++) for (let b = 0; b < 100; b++) expect(table.get(a, b)).toBe(reference.get(`${a},${b}`));
    }
  });

  it("leaves a model alone when two tokens share an id or the merge step is not the library's", async () => {
    const tokenizer = await AutoTokenizer.from_pretrained(join(MODELS, "tiny-gpt2"), { local_files_only: true });
    const model = tokenizerModel(tokenizer) as { bpe_ranks: unknown; tokens_to_ids: Map<string, number>; add_node: unknown };
    const ranks = model.bpe_ranks;
    const step = model.add_node;
    const first = [...model.tokens_to_ids][0]!;
    model.tokens_to_ids.set(`${first[0]}-copy`, first[1]);
    expect(compactMergeRanks(model)).toBe(false);
    model.tokens_to_ids.delete(`${first[0]}-copy`);
    model.add_node = () => {};
    expect(compactMergeRanks(model)).toBe(false);
    expect(model.bpe_ranks).toBe(ranks);
    model.add_node = step;
    expect(compactMergeRanks(model)).toBe(true);
    expect(model.bpe_ranks).not.toBe(ranks);
    expect(compactMergeRanks({ vocab: [] })).toBe(false);
  });
});

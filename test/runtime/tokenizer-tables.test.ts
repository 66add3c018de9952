// The engine's tokenizer (src/runtime/model-tokenizer.ts) is transformers.js's, built without transformers.js: it lets
// go of the tables only the build reads and keeps BPE merge ranks by token ids (src/runtime/bpe-merge-ranks.ts). What it
// encodes, decodes, lists as its vocabulary and renders from a chat template must equal transformers.js's own.
import { describe, expect, it } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRng } from "../../src/engine/rng.ts";
import { compactMergeRanks, MergeRankTable } from "../../src/runtime/bpe-merge-ranks.ts";
import { loadTokenizer, tokenizerModel } from "../../src/runtime/model-tokenizer.ts";
import { AutoTokenizer } from "../../src/runtime/transformers.ts";

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

const bpeModel = (t: object) =>
  (t as { _tokenizer: { model: { merges?: unknown; bpe_ranks?: unknown; config?: { vocab?: unknown } } } })._tokenizer.model;

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
      expect(compact.all_special_ids).toEqual(full.all_special_ids);
      expect(compact.pad_token_id).toEqual(full.pad_token_id);
      expect(compact.model_max_length).toEqual(full.model_max_length);
      expect(compact.chat_template).toEqual(full.chat_template);
      expect(compact.encode(PROSE)).toEqual(full.encode(PROSE));
      const next = createRng(fixture.length * 7919);
      const size = full.get_vocab().size;
      for (let i = 0; i < 300; i++) {
        const text = randomText(next);
        expect(compact.encode(text)).toEqual(full.encode(text));
        expect(compact.encode(text, { add_special_tokens: false })).toEqual(full.encode(text, { add_special_tokens: false }));
        const ids = Array.from({ length: 1 + Math.floor(next() * 20) }, () => Math.floor(next() * size));
        expect(compact.decode(ids)).toEqual(full.decode(ids));
        const options = { skip_special_tokens: next() < 0.5, clean_up_tokenization_spaces: [true, false, undefined][Math.floor(next() * 3)] };
        expect(compact.decode(ids, options)).toEqual(full.decode(ids, options));
      }
    });
  }
});

describe("chat templates without transformers.js", () => {
  const conversation = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Hi <|im_end|> there" },
    { role: "assistant", content: "", tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: { x: 1 } } }] },
    { role: "tool", content: "42", tool_call_id: "c1" },
  ];
  const tools = [{ type: "function", function: { name: "f", description: "d", parameters: { type: "object" } } }];
  const custom =
    "{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{% for m in messages %}{{ m.role }}:{{ m.content | trim }}" +
    "{% if m.tool_calls %}{{ m.tool_calls | tojson }}{% endif %};{% endfor %}{% if tools %}{{ tools | tojson }}{% endif %}" +
    "{{ documents }}{{ enable_thinking }}{% if add_generation_prompt %}>{% endif %}";

  it("renders the model's template and one sent with the request as transformers.js does", async () => {
    for (const fixture of ["tiny-llama", "tiny-gpt2"]) {
      const dir = join(MODELS, fixture);
      const ours = await loadTokenizer(dir);
      const theirs = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
      for (const add_generation_prompt of [true, false]) {
        const options = { tokenize: false as const, add_generation_prompt, enable_thinking: false };
        if (ours.chat_template) {
          expect(ours.apply_chat_template(conversation, options)).toEqual(theirs.apply_chat_template(conversation, options) as string);
        }
        const withTools = { ...options, chat_template: custom, tools };
        expect(ours.apply_chat_template(conversation, withTools)).toEqual(theirs.apply_chat_template(conversation, withTools) as string);
      }
      if (!ours.chat_template) {
        expect(() => ours.apply_chat_template(conversation, { tokenize: false })).toThrow(/chat_template is not set/);
      }
    }
  });

  it("picks among named templates as transformers.js does: by name, tool_use with tools, else default", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gpt3dev-named-templates-"));
    try {
      cpSync(join(MODELS, "tiny-llama", "tokenizer.json"), join(dir, "tokenizer.json"));
      const config = JSON.parse(readFileSync(join(MODELS, "tiny-llama", "tokenizer_config.json"), "utf8"));
      config.chat_template = [
        { name: "default", template: "D{{ messages | length }}" },
        { name: "tool_use", template: "T{{ tools | length }}" },
        { name: "rag", template: "R{{ documents | length }}" },
      ];
      writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
      const ours = await loadTokenizer(dir);
      const theirs = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
      for (const options of [
        { tokenize: false as const },
        { tokenize: false as const, tools },
        { tokenize: false as const, chat_template: "rag", documents: [{ title: "a", text: "b" }] },
      ]) {
        expect(ours.apply_chat_template(conversation, options)).toEqual(theirs.apply_chat_template(conversation, options) as string);
      }
      expect(ours.apply_chat_template(conversation, { tokenize: false, tools })).toBe("T1");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("special tokens written as objects in tokenizer_config.json", () => {
  it("reads a token's content with or without transformers.js's AddedToken mark, and names a field it cannot read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gpt3dev-token-objects-"));
    try {
      cpSync(join(MODELS, "tiny-llama", "tokenizer.json"), join(dir, "tokenizer.json"));
      const config = JSON.parse(readFileSync(join(MODELS, "tiny-llama", "tokenizer_config.json"), "utf8"));
      config.eos_token = { __type: "AddedToken", content: "<|im_end|>", lstrip: false, rstrip: false };
      config.pad_token = { content: "<|endoftext|>", lstrip: false, normalized: false, rstrip: false, single_word: false };
      config.chat_template = "{{ eos_token }}/{{ pad_token }}";
      writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
      const tokenizer = await loadTokenizer(dir);
      expect(tokenizer.apply_chat_template([], { tokenize: false })).toBe("<|im_end|>/<|endoftext|>");
      expect(tokenizer.pad_token_id).toBe(tokenizer.get_vocab().get("<|endoftext|>"));
      config.pad_token = { lstrip: false };
      writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
      await expect(loadTokenizer(dir)).rejects.toThrow(/pad_token is neither text nor a token/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
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

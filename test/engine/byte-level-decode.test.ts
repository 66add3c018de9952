// The byte-level decode table gives transformers.js's own decode (special tokens skipped, no clean-up) for every id
// alone and for many random id sequences, on GPT-2's full vocabulary and on tokenizers with added tokens, special and
// not; tokenizers it cannot reproduce get no table.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ByteLevelDecoder } from "../../src/engine/byte-level-decode.ts";
import { createRng } from "../../src/engine/rng.ts";
import { Tokenizer } from "../../src/engine/tokenizer.ts";
import { loadTokenizer, type ModelTokenizer } from "../../src/runtime/model-tokenizer.ts";

const MODELS = resolve(import.meta.dir, "../../models");

const slow = (t: ModelTokenizer, ids: number[]) => t.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false });

/** Random sequences: any id, or ids whose bytes are not ASCII (pieces of multi-byte characters, invalid UTF-8). */
function sequences(vocab: number, nonAscii: number[], count: number, seed: bigint): number[][] {
  const rng = createRng(seed);
  const pick = () => (rng() < 0.5 && nonAscii.length > 0 ? nonAscii[Math.floor(rng() * nonAscii.length)]! : Math.floor(rng() * vocab));
  return Array.from({ length: count }, () => Array.from({ length: 1 + Math.floor(rng() * 12) }, pick));
}

function expectSameDecode(inner: ModelTokenizer, count: number, seed: bigint, extraIds: number[] = []): void {
  const table = ByteLevelDecoder.of(inner);
  expect(table).toBeDefined();
  const vocab = inner.get_vocab().size;
  const nonAscii: number[] = [];
  for (let id = 0; id < vocab; id++) {
    const text = table!.decode([id]);
    expect(text).toBe(slow(inner, [id]));
    if (text === undefined || /[^\x00-\x7f]/.test(text)) nonAscii.push(id);
  }
  let replaced = 0;
  for (const ids of [...sequences(vocab, nonAscii, count, seed), ...extraIds.map((id) => [id, 300 % vocab, id, id])]) {
    const text = table!.decode(ids);
    expect(text).toBe(slow(inner, ids));
    if (text!.includes("\ufffd")) replaced++;
  }
  // The sequences reached invalid and partial UTF-8, not only whole characters.
  expect(replaced).toBeGreaterThan(count / 20);
}

describe("byte-level decode table", () => {
  test("GPT-2's 50,257 tokens alone and 4,000 random sequences decode as transformers.js decodes them", async () => {
    expectSameDecode(await loadTokenizer(join(MODELS, "gpt2-vocab")), 4000, 1n, [50256]);
  });

  test("added tokens, special (skipped) and not (written as they are), inside runs of byte tokens", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gpt3dev-added-tokens-"));
    try {
      const source = join(MODELS, "tiny-llama");
      for (const file of ["tokenizer_config.json", "config.json"]) copyFileSync(join(source, file), join(dir, file));
      const json = JSON.parse(readFileSync(join(source, "tokenizer.json"), "utf8"));
      const next = Math.max(...json.added_tokens.map((a: { id: number }) => a.id)) + 1;
      const base = { single_word: false, lstrip: false, rstrip: false, normalized: false };
      json.added_tokens.push({ ...base, id: next, content: "<tool_call>", special: false }, { ...base, id: next + 1, content: " ✓done", special: false });
      writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(json));
      const inner = await loadTokenizer(dir);
      expect(slow(inner, [next, 657, next + 1])).toBe("<tool_call> ✓done");
      expectSameDecode(inner, 3000, 2n, [next, next + 1, 656, 657, 658]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("ids outside the table fall back to transformers.js (unknown ids decode as it decodes them)", async () => {
    const tokenizer = await Tokenizer.load(join(MODELS, "tiny-gpt2"));
    const inner = await loadTokenizer(join(MODELS, "tiny-gpt2"));
    expect(ByteLevelDecoder.of(inner)!.decode([5, 100_000])).toBeUndefined();
    expect(tokenizer.decode([5, 100_000])).toBe(slow(inner, [5, 100_000]));
    expect(() => tokenizer.decode([])).toThrow();
  });

  test("tokenizers whose decoder is not byte-level get no table", async () => {
    expect(ByteLevelDecoder.of(await loadTokenizer(join(MODELS, "tiny-bert")))).toBeUndefined();
  });
});

/**
 * OpenAI's own encodings (through gpt-tokenizer). A model whose tokenizer is one of them counts and encodes text
 * with it, so usage figures equal what OpenAI's tokenizer would report.
 */
export const OPENAI_ENCODINGS = ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"] as const;
export type OpenAIEncodingName = (typeof OPENAI_ENCODINGS)[number];

export interface OpenAIEncoding {
  readonly name: OpenAIEncodingName;
  readonly vocabularySize: number;
  encode(text: string): number[];
}

interface GptTokenizerModule {
  encode(text: string, options?: { allowedSpecial?: unknown; disallowedSpecial?: unknown }): number[];
  vocabularySize: number;
  ALL_SPECIAL_TOKENS: unknown;
  setMergeCacheSize(size: number): void;
}

/**
 * Words whose tokens gpt-tokenizer remembers (its default, 100,000, would let traffic grow a server by tens of MiB;
 * transformers.js keeps 10,000 too).
 */
export const MERGE_CACHE_WORDS = 10_000;

// Literal specifiers let the compiler bundle each table while loading only the one a model uses.
const loaders: Record<OpenAIEncodingName, () => Promise<GptTokenizerModule>> = {
  r50k_base: () => import("gpt-tokenizer/encoding/r50k_base"),
  p50k_base: () => import("gpt-tokenizer/encoding/p50k_base"),
  cl100k_base: () => import("gpt-tokenizer/encoding/cl100k_base"),
  o200k_base: () => import("gpt-tokenizer/encoding/o200k_base"),
};

/** Vocabulary sizes as Hugging Face conversions of these encodings report them (regular plus special tokens). */
const VOCAB_SIZES: Record<OpenAIEncodingName, number> = {
  r50k_base: 50257,
  p50k_base: 50281,
  cl100k_base: 100277,
  o200k_base: 200019,
};

/**
 * The fingerprint (src/runtime/tokenizer-fingerprint.ts) of GPT-2's tokenizer.json, whose ids are r50k_base's: such a
 * tokenizer encodes for r50k_base itself (test/engine/openai-encoding.test.ts checks the ids against gpt-tokenizer's),
 * and gpt-tokenizer's own table of the same 50,257 tokens (about 10 MiB in the server) is not loaded beside it.
 */
export const R50K_FINGERPRINT = "561a6a676f7fe308aa1fc5bab6f1bcd75b245c229a3b2dbe51a8dcd4c3866346";

/** r50k_base as the model's own tokenizer computes it (`encode` without special tokens added). */
export function r50kThrough(encode: (text: string) => number[]): OpenAIEncoding {
  return { name: "r50k_base", vocabularySize: VOCAB_SIZES.r50k_base, encode };
}

export function isOpenAIEncodingName(name: string): name is OpenAIEncodingName {
  return (OPENAI_ENCODINGS as readonly string[]).includes(name);
}

export async function loadOpenAIEncoding(name: OpenAIEncodingName): Promise<OpenAIEncoding> {
  const module = await loaders[name]();
  module.setMergeCacheSize(MERGE_CACHE_WORDS);
  const specials = specialTokens(module);
  // Special tokens written in the text count as one token each, as Hugging Face tokenizers (and tiktoken with
  // allowed_special="all") treat them. gpt-tokenizer finds them only at the start of the text or right after another
  // one, so the text is split at each of them here and the pieces between are encoded as plain text.
  const plain = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };
  if (specials.size === 0) return { name, vocabularySize: module.vocabularySize, encode: (text) => module.encode(text, plain) };
  const pattern = new RegExp([...specials.keys()].map(escapeRegExp).join("|"), "g");
  const encode = (text: string): number[] => {
    const ids: number[] = [];
    let from = 0;
    for (const match of text.matchAll(pattern)) {
      if (match.index > from) ids.push(...module.encode(text.slice(from, match.index), plain));
      ids.push(specials.get(match[0])!);
      from = match.index + match[0].length;
    }
    if (from === 0) return module.encode(text, plain);
    if (from < text.length) ids.push(...module.encode(text.slice(from), plain));
    return ids;
  };
  return { name, vocabularySize: module.vocabularySize, encode };
}

/** The encoding's own special tokens (gpt-tokenizer exports the names of every encoding's): those it reads as one id. */
function specialTokens(module: GptTokenizerModule): Map<string, number> {
  const tokens = new Map<string, number>();
  for (const [key, value] of Object.entries(module)) {
    if (typeof value !== "string" || !/^[A-Z]\w*$/.test(key) || !/^<\|.+\|>$/.test(value)) continue;
    const ids = module.encode(value, { allowedSpecial: module.ALL_SPECIAL_TOKENS });
    if (ids.length === 1) tokens.set(value, ids[0]!);
  }
  return tokens;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Text that exercises pre-tokenisation differences: contractions, digits, whitespace runs, non-Latin scripts. */
const PROBE = "Hello, world! I'm 12345 tokens\n\n  indented\tcafé 😀 中文 don't ＡＢＣ …";

/**
 * Finds the OpenAI encoding a Hugging Face tokenizer reproduces, if any: same vocabulary size and the same ids
 * on a probe text.
 */
export async function detectOpenAIEncoding(
  vocabSize: number,
  encode: (text: string) => number[],
): Promise<OpenAIEncoding | undefined> {
  for (const name of OPENAI_ENCODINGS) {
    if (VOCAB_SIZES[name] !== vocabSize) continue;
    const encoding = await loadOpenAIEncoding(name);
    if (encoding.encode(PROBE).join() === encode(PROBE).join()) return encoding;
  }
  return undefined;
}

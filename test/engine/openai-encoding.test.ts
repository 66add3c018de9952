import { describe, expect, it } from "bun:test";
import { join } from "node:path";
import { encode as r50kEncode } from "gpt-tokenizer/encoding/r50k_base";
import { detectOpenAIEncoding, loadOpenAIEncoding, MERGE_CACHE_WORDS } from "../../src/engine/openai-encoding.ts";
import { DEFAULT_SCHEDULER_OPTIONS } from "../../src/engine/generation-job.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import { TextModel } from "../../src/engine/text-model.ts";
import { Tokenizer } from "../../src/engine/tokenizer.ts";
import { createRng } from "../../src/engine/rng.ts";
import { loadTokenizer } from "../../src/runtime/model-tokenizer.ts";

const MODELS = join(import.meta.dir, "..", "..", "models");

describe("OpenAI encodings", () => {
  it("detects r50k_base from the real GPT-2 vocabulary and counts with it", async () => {
    const tokenizer = await Tokenizer.load(join(MODELS, "gpt2-vocab"));
    expect(tokenizer.openaiEncoding?.name).toBe("r50k_base");
    const text = "Token counts must match: 😀 naïve café, 1234567 done";
    expect(tokenizer.encode(text)).toEqual(r50kEncode(text));
  });

  it("reads a special token anywhere in the text as its one id, as the model's own tokenizer does", async () => {
    const tokenizer = await Tokenizer.load(join(MODELS, "gpt2-vocab"));
    const own = await loadTokenizer(join(MODELS, "gpt2-vocab"));
    expect(tokenizer.encode("a<|endoftext|>b")).toEqual([64, 50256, 65]);
    expect(tokenizer.encode("<|endoftext|><|endoftext|> x<|endoftext|>")).toEqual([50256, 50256, 2124, 50256]);
    const next = createRng(11);
    const pieces = ["<|endoftext|>", "<|endoftext", "|>", " ", "a", "hello", "\n", "é", "😀", "<", "|", "1"];
    for (let i = 0; i < 500; i++) {
      const text = Array.from({ length: 1 + Math.floor(next() * 12) }, () => pieces[Math.floor(next() * pieces.length)]).join("");
      expect(tokenizer.encode(text)).toEqual(own.encode(text, { add_special_tokens: false }));
    }
    const cl100k = await loadOpenAIEncoding("cl100k_base");
    expect(cl100k.encode("x<|endoftext|>y<|im_start|>z")).toEqual([87, 100257, 88, 100264, 89]);
    expect(cl100k.encode("x<|endoftext|>y<|fim_prefix|>")).toEqual([87, 100257, 88, 100258]);
  });

  it("does not claim an OpenAI encoding for a model's own small vocabulary", async () => {
    const tokenizer = await Tokenizer.load(join(MODELS, "tiny-gpt2"));
    expect(tokenizer.openaiEncoding).toBeUndefined();
  });

  it("rejects a same-sized vocabulary that encodes differently", async () => {
    const detected = await detectOpenAIEncoding(50257, (text) => [...text].map((c) => c.codePointAt(0)!));
    expect(detected).toBeUndefined();
  });

  it("uses the registry's openai_encoding over detection when a model is loaded", async () => {
    const spec = new ModelRegistry({ modelsDir: MODELS }).get("gpt2-vocab")!;
    const model = await TextModel.load({ ...spec, openaiEncoding: "p50k_base" }, { intraOpThreads: 1 }, DEFAULT_SCHEDULER_OPTIONS);
    try {
      expect(model.tokenizer.openaiEncoding?.name).toBe("p50k_base");
    } finally {
      await model.release();
    }
  });

  it("loads a named encoding on request", async () => {
    const cl100k = await loadOpenAIEncoding("cl100k_base");
    expect(cl100k.encode("hello world")).toEqual([15339, 1917]);
  });
});

describe("OpenAI encodings' word cache", () => {
  it("remembers at most MERGE_CACHE_WORDS words, however many distinct words it encodes", async () => {
    const encoding = await loadOpenAIEncoding("r50k_base");
    // Letters only (the pre-tokenizer splits digits off), rare enough to be several tokens each.
    const letters = (i: number) => [...i.toString(16)].map((c) => String.fromCharCode(106 + parseInt(c, 16))).join("");
    const words = Array.from({ length: MERGE_CACHE_WORDS + 2000 }, (_, i) => `zq${letters(i)}xv`);
    for (let i = 0; i < words.length; i += 500) encoding.encode(words.slice(i, i + 500).join(" "));
    const core = (await import("gpt-tokenizer/encoding/r50k_base")).default as unknown as { bytePairEncodingCoreProcessor: { mergeCache?: Map<string, unknown> } };
    const cache = core.bytePairEncodingCoreProcessor.mergeCache!;
    expect(cache.size).toBeGreaterThan(MERGE_CACHE_WORDS / 2);
    expect(cache.size).toBeLessThanOrEqual(MERGE_CACHE_WORDS);
  });
});

import { expect, it } from "bun:test";
import { encode } from "gpt-tokenizer/encoding/r50k_base";
import { describeEachMode, errorOf, jsonOf } from "./suite.ts";

interface Tokenized {
  count: number;
  max_model_len: number;
  tokens: number[];
}

describeEachMode("POST /tokenize and /detokenize", (ctx) => {
  it("tokenizes exactly as gpt-tokenizer for the GPT-2 vocabulary and round-trips", async () => {
    const prompt = "Budget this prompt: naïve café 😀 1234";
    const response = await ctx().post("/tokenize", { model: "gpt2-vocab", prompt });
    expect(response.status).toBe(200);
    const body = await jsonOf<Tokenized>(response);
    expect(body).toEqual({ count: encode(prompt).length, max_model_len: 1024, tokens: encode(prompt) });
    const back = await jsonOf<{ prompt: string }>(await ctx().post("/detokenize", { model: "gpt2-vocab", tokens: body.tokens }));
    expect(back.prompt).toBe(prompt);
  });

  it("counts a conversation as the chat template renders it, matching chat usage", async () => {
    const messages = [{ role: "user", content: "How many tokens is this?" }];
    const tokenized = await jsonOf<Tokenized>(await ctx().post("/tokenize", { model: "tiny-llama", messages }));
    const chat = await ctx().client.chat.completions.create({ model: "tiny-llama", messages: messages as never, max_tokens: 1 });
    expect(tokenized.count).toBe(chat.usage!.prompt_tokens);
    expect(tokenized.max_model_len).toBe(256);
  });

  it("tokenizes the same ids with add_special_tokens false for a tokenizer that adds none", async () => {
    const withSpecial = await jsonOf<Tokenized>(await ctx().post("/tokenize", { model: "tiny-llama", prompt: "hi" }));
    const without = await jsonOf<Tokenized>(
      await ctx().post("/tokenize", { model: "tiny-llama", prompt: "hi", add_special_tokens: false }),
    );
    // tiny-llama's tokenizer adds no special token, so both are the same ids (test/http/tokenize-special.test.ts
    // covers a tokenizer that adds one).
    expect(without.tokens.length).toBeGreaterThan(0);
    expect(without.tokens).toEqual(withSpecial.tokens);
  });

  it("refuses bad requests with envelopes naming the field", async () => {
    const cases: Array<[string, unknown, number, string | null]> = [
      ["/tokenize", { model: "gpt2-vocab" }, 400, "prompt"],
      ["/tokenize", { model: "gpt2-vocab", prompt: "a", messages: [{ role: "user", content: "b" }] }, 400, "messages"],
      ["/tokenize", { model: "nope", prompt: "a" }, 404, "model"],
      ["/tokenize", { model: "tiny-bert", prompt: "a" }, 400, "model"],
      ["/detokenize", { model: "gpt2-vocab", tokens: [50257] }, 400, "tokens"],
      ["/detokenize", { model: "gpt2-vocab", tokens: ["a"] }, 400, "tokens[0]"],
    ];
    for (const [path, body, status, param] of cases) {
      const response = await ctx().post(path, body);
      expect(response.status).toBe(status);
      expect((await errorOf(response)).param).toBe(param);
    }
  });
});

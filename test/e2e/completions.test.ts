import { expect, it } from "bun:test";
import { encode } from "gpt-tokenizer/encoding/r50k_base";
import { BadRequestError } from "openai";
import { describeEachMode, errorOf, parseSse } from "./suite.ts";

const PROMPT = "The quick brown fox jumps over the lazy dog, and then";

describeEachMode("POST /v1/completions", (ctx) => {
  it("completes greedily in OpenAI's shape with usage", async () => {
    const completion = await ctx().client.completions.create({
      model: "tiny-gpt2",
      prompt: PROMPT,
      max_tokens: 8,
      temperature: 0,
    });
    expect(completion.id).toMatch(/^cmpl-[0-9a-f]{32}$/);
    expect(completion.object).toBe("text_completion");
    expect(completion.model).toBe("tiny-gpt2");
    expect(Math.abs(completion.created - Date.now() / 1000)).toBeLessThan(60);
    expect(completion.choices).toHaveLength(1);
    const [choice] = completion.choices;
    expect(choice).toMatchObject({ index: 0, logprobs: null, finish_reason: "length" });
    expect(choice!.text.length).toBeGreaterThan(0);
    expect(choice!.text).not.toContain("\uFFFD");
    expect(completion.usage?.completion_tokens).toBe(8);
    expect(completion.usage?.total_tokens).toBe(completion.usage!.prompt_tokens + 8);
    const again = await ctx().client.completions.create({ model: "tiny-gpt2", prompt: PROMPT, max_tokens: 8, temperature: 0 });
    expect(again.choices[0]!.text).toBe(choice!.text);
  });

  it("counts prompt tokens exactly as gpt-tokenizer does for the GPT-2 vocabulary", async () => {
    const prompts = ["Hello, world!", "  spaces\tand\nnewlines — emoji 😀 and 中文 text", "don't 12345 café"];
    for (const prompt of prompts) {
      const completion = await ctx().client.completions.create({ model: "gpt2-vocab", prompt, max_tokens: 1 });
      expect(completion.usage?.prompt_tokens).toBe(encode(prompt).length);
    }
  });

  it("defaults max_tokens to 16 and accepts token-id prompts", async () => {
    const ids = encode("Hello there");
    const completion = await ctx().client.completions.create({ model: "gpt2-vocab", prompt: ids, temperature: 0 });
    expect(completion.usage?.prompt_tokens).toBe(ids.length);
    expect(completion.usage?.completion_tokens).toBe(16);
    const fromText = await ctx().client.completions.create({ model: "gpt2-vocab", prompt: "Hello there", temperature: 0 });
    expect(fromText.choices[0]!.text).toBe(completion.choices[0]!.text);
  });

  it("numbers choices prompt by prompt for n > 1 and several prompts", async () => {
    const completion = await ctx().client.completions.create({
      model: "tiny-gpt2",
      prompt: ["first prompt", "second prompt"],
      n: 2,
      max_tokens: 4,
      seed: 7,
    });
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(completion.usage?.completion_tokens).toBe(16);
    // A large seed (near 2^53) reproduces every choice by index; the n samples of a prompt differ from each other,
    // and choice 1 is not choice 0 of the next seed (each choice is seeded from the pair, not from seed + index).
    const sampled = { model: "tiny-gpt2", prompt: ["first prompt", "second prompt"], n: 2, max_tokens: 8, temperature: 1.5 };
    const seed = 9007199254740000;
    const texts = async (s: number) => (await ctx().client.completions.create({ ...sampled, seed: s })).choices.map((c) => c.text);
    const first = await texts(seed);
    expect(await texts(seed)).toEqual(first);
    expect(first[1]).not.toBe(first[0]);
    expect(first[3]).not.toBe(first[2]);
    expect((await texts(seed + 1))[0]).not.toBe(first[1]);
    const single = await ctx().client.completions.create({ model: "tiny-gpt2", prompt: "first prompt", max_tokens: 4, temperature: 0 });
    const batch = await ctx().client.completions.create({
      model: "tiny-gpt2",
      prompt: ["first prompt", "second prompt"],
      max_tokens: 4,
      temperature: 0,
    });
    expect(batch.choices[0]!.text).toBe(single.choices[0]!.text);
    expect(single.usage?.prompt_tokens).toBeLessThan(batch.usage!.prompt_tokens);
  });

  it("reproduces a sampled completion with the same seed", async () => {
    const request = { model: "tiny-llama", prompt: "Once upon a time", max_tokens: 12, temperature: 1.2, seed: 1234 };
    const a = await ctx().client.completions.create(request);
    const b = await ctx().client.completions.create(request);
    const c = await ctx().client.completions.create({ ...request, seed: 4321 });
    expect(b.choices[0]!.text).toBe(a.choices[0]!.text);
    expect(c.choices[0]!.text).not.toBe(a.choices[0]!.text);
  });

  it("streams the same text as the non-streamed completion, ending with usage and [DONE]", async () => {
    const request = { model: "tiny-gpt2", prompt: PROMPT, max_tokens: 10, temperature: 0 };
    const whole = await ctx().client.completions.create(request);
    const stream = await ctx().client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    let text = "";
    const finishes: (string | null)[] = [];
    let usage: unknown = undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("text_completion");
      if (chunk.usage) usage = chunk.usage;
      else expect(chunk.usage).toBeNull();
      for (const choice of chunk.choices) {
        text += choice.text;
        finishes.push(choice.finish_reason);
      }
    }
    expect(text).toBe(whole.choices[0]!.text);
    expect(finishes.at(-1)).toBe("length");
    expect(finishes.slice(0, -1).every((f) => f === null)).toBe(true);
    expect(usage).toEqual(whole.usage);
  });

  it("frames the stream as text/event-stream data events ending in data: [DONE]", async () => {
    const response = await ctx().post("/v1/completions", {
      model: "tiny-gpt2",
      prompt: "Hi",
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const events = parseSse(await response.text());
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    const last = chunks.at(-1);
    expect(last.choices).toEqual([]);
    expect(last.usage.completion_tokens).toBe(3);
    expect(chunks.at(-2).choices[0].finish_reason).toBe("length");
  });

  it("honours a stop string spanning two tokens and never streams it", async () => {
    const request = { model: "gpt2-vocab", prompt: PROMPT, max_tokens: 12, temperature: 0 };
    const pieces: string[] = [];
    for await (const chunk of await ctx().client.completions.create({ ...request, stream: true })) {
      for (const choice of chunk.choices) if (choice.text) pieces.push(choice.text);
    }
    const k = pieces.findIndex((p, i) => i > 0 && p.length >= 2 && (pieces[i + 1]?.length ?? 0) >= 1);
    expect(k).toBeGreaterThan(0);
    const stop = pieces[k]!.slice(-2) + pieces[k + 1]!.slice(0, 1);
    const full = pieces.join("");
    const expected = full.slice(0, full.indexOf(stop));
    const stopped = await ctx().client.completions.create({ ...request, stop: [stop, "never-seen-zzz"] });
    expect(stopped.choices[0]!.text).toBe(expected);
    expect(stopped.choices[0]!.finish_reason).toBe("stop");
    let streamed = "";
    for await (const chunk of await ctx().client.completions.create({ ...request, stop, stream: true })) {
      for (const choice of chunk.choices) streamed += choice.text;
    }
    expect(streamed).toBe(expected);
  });

  it("refuses a prompt that does not fit the context with OpenAI's wording", async () => {
    const response = await ctx().post("/v1/completions", { model: "tiny-gpt2", prompt: "word ".repeat(120), max_tokens: 50 });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("context_length_exceeded");
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toMatch(
      /^This model's maximum context length is 128 tokens, however you requested \d+ tokens \(\d+ in your prompt; 50 for the completion\)\. Please reduce your prompt; or completion length\.$/,
    );
  });

  it("names the field in validation errors and refuses unsupported options", async () => {
    const cases: Array<[unknown, string, string]> = [
      [{ prompt: "x" }, "model", "missing_required_parameter"],
      [{ model: "tiny-gpt2", prompt: "x", temperature: 5 }, "temperature", "invalid_value"],
      [{ model: "tiny-gpt2", prompt: "x", max_tokens: "ten" }, "max_tokens", "invalid_value"],
      [{ model: "tiny-gpt2", prompt: "x", stop: ["a", "b", "c", "d", "e"] }, "stop", "limit_exceeded"],
      [{ model: "tiny-gpt2", prompt: "x", suffix: "y" }, "suffix", "unsupported_parameter"],
      [{ model: "tiny-gpt2", prompt: "x", max_tokens: 0 }, "max_tokens", null as never],
      [{ model: "tiny-gpt2", prompt: "x", n: 3, best_of: 2 }, "best_of", null as never],
      [{ model: "tiny-gpt2", prompt: "x", stream_options: { include_usage: true } }, "stream_options", null as never],
      [{ model: "tiny-gpt2", prompt: "x", mirostat: 2 }, "mirostat", "unknown_parameter"],
      [{ model: "tiny-gpt2", prompt: [1, 2, 999999] }, "prompt", null as never],
    ];
    for (const [body, param, code] of cases) {
      const response = await ctx().post("/v1/completions", body);
      expect(response.status).toBe(400);
      const error = await errorOf(response);
      expect({ param: error.param, code: error.code ?? null }).toEqual({ param, code: code ?? null });
      expect(error.type).toBe("invalid_request_error");
      expect(error.message.length).toBeGreaterThan(10);
    }
  });

  it("accepts harmless no-op values", async () => {
    const completion = await ctx().client.completions.create({
      model: "tiny-gpt2",
      prompt: "x",
      max_tokens: 2,
      n: 1,
      best_of: 1,
      user: "someone",
      echo: false,
      presence_penalty: 0,
      frequency_penalty: 0,
      logit_bias: {},
      stop: null,
    });
    expect(completion.choices).toHaveLength(1);
  });

  it("answers bad JSON, an unknown model and an embeddings model with envelopes", async () => {
    const bad = await ctx().post("/v1/completions", '{"model": "tiny-gpt2", "prompt": ');
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).type).toBe("invalid_request_error");
    const unknown = await ctx().post("/v1/completions", { model: "nope", prompt: "x" });
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe("model_not_found");
    const error = await ctx()
      .client.completions.create({ model: "tiny-bert", prompt: "x" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).param).toBe("model");
  });
});

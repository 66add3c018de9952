import { expect, it } from "bun:test";
import type OpenAI from "openai";
import { describeEachMode } from "./suite.ts";

type ChatTokenLogprob = OpenAI.Chat.Completions.ChatCompletionTokenLogprob;

const PROMPT = "The quick brown fox jumps over the lazy dog, and then";

describeEachMode("logprobs", (ctx) => {
  it("completions: tokens, token_logprobs, top_logprobs (k + the chosen one) and text_offset in OpenAI's shape", async () => {
    const completion = await ctx().client.completions.create({
      model: "gpt2-vocab",
      prompt: PROMPT,
      max_tokens: 6,
      temperature: 0,
      logprobs: 3,
    });
    const choice = completion.choices[0]!;
    const { tokens, token_logprobs, top_logprobs, text_offset } = choice.logprobs!;
    expect(tokens).toHaveLength(6);
    expect(tokens!.join("")).toBe(choice.text);
    expect(text_offset).toEqual(tokens!.map((_, i) => tokens!.slice(0, i).join("").length));
    tokens!.forEach((token, i) => {
      const top = top_logprobs![i]!;
      const values = Object.values(top);
      // greedy: the chosen token is the most likely one, so the three alternatives already hold it
      expect(values).toHaveLength(3);
      expect(top[token]).toBe(token_logprobs![i]!);
      expect(Math.max(...values)).toBe(token_logprobs![i]!);
      for (const v of values) expect(v).toBeLessThan(0);
      const sum = values.reduce((s, v) => s + Math.exp(v), 0);
      expect(sum).toBeLessThanOrEqual(1.000001);
    });
  });

  it("chat: content entries with bytes and exactly top_logprobs alternatives, most likely first", async () => {
    const completion = await ctx().client.chat.completions.create({
      model: "tiny-llama",
      messages: [{ role: "user", content: "Say something." }],
      max_tokens: 5,
      temperature: 0,
      logprobs: true,
      top_logprobs: 4,
    });
    const choice = completion.choices[0]!;
    const content = choice.logprobs!.content!;
    expect(content.map((t) => t.token).join("")).toBe(choice.message.content!);
    for (const entry of content) {
      expect(Buffer.from(entry.bytes!).toString("utf8")).toBe(entry.token);
      expect(entry.top_logprobs).toHaveLength(4);
      expect(entry.top_logprobs[0]!.token).toBe(entry.token);
      expect(entry.top_logprobs[0]!.logprob).toBe(entry.logprob);
      const values = entry.top_logprobs.map((t) => t.logprob);
      expect(values).toEqual([...values].sort((a, b) => b - a));
    }
    const plain = await ctx().client.chat.completions.create({
      model: "tiny-llama",
      messages: [{ role: "user", content: "Say something." }],
      max_tokens: 5,
      temperature: 0,
      logprobs: true,
    });
    expect(plain.choices[0]!.logprobs!.content!.map((t) => t.top_logprobs)).toEqual(content.map(() => []));
    // The repeat resumes after the prompt cached by the first request: the last prompt token runs alone, which moves
    // the logits in their last digits (README, "Prefix cache"); the tokens are the same.
    const repeated = plain.choices[0]!.logprobs!.content!;
    expect(repeated.map((t) => t.token)).toEqual(content.map((t) => t.token));
    repeated.forEach((t, i) => expect(t.logprob).toBeCloseTo(content[i]!.logprob, 5));
  });

  it("streamed chunks carry their own tokens' logprobs; joined they equal the non-streamed ones", async () => {
    const request = { model: "gpt2-vocab", prompt: PROMPT, max_tokens: 8, temperature: 0, logprobs: 2 };
    const whole = (await ctx().client.completions.create(request)).choices[0]!.logprobs!;
    const stream = await ctx().client.completions.create({ ...request, stream: true });
    const joined = { tokens: [] as string[], token_logprobs: [] as number[], top_logprobs: [] as unknown[], text_offset: [] as number[] };
    for await (const chunk of stream) {
      const logprobs = chunk.choices[0]?.logprobs;
      if (!logprobs) continue;
      expect(logprobs.tokens).toHaveLength(1);
      joined.tokens.push(...logprobs.tokens!);
      joined.token_logprobs.push(...logprobs.token_logprobs!);
      joined.top_logprobs.push(...logprobs.top_logprobs!);
      joined.text_offset.push(...logprobs.text_offset!);
    }
    expect({ ...joined, token_logprobs: [], top_logprobs: [] }).toEqual({ ...(whole as typeof joined), token_logprobs: [], top_logprobs: [] });
    expectClose(joined.token_logprobs, whole.token_logprobs as number[]);
    expect(joined.top_logprobs.map((t) => Object.keys(t as object))).toEqual(whole.top_logprobs!.map((t) => Object.keys(t)));

    const chatRequest = {
      model: "tiny-llama",
      messages: [{ role: "user" as const, content: "Hello" }],
      max_tokens: 6,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
    };
    const chat = (await ctx().client.chat.completions.create(chatRequest)).choices[0]!.logprobs!.content!;
    const chatStream = await ctx().client.chat.completions.create({ ...chatRequest, stream: true });
    const chatJoined: ChatTokenLogprob[] = [];
    for await (const chunk of chatStream) chatJoined.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    const strip = (entries: ChatTokenLogprob[]) => entries.map((e) => ({ ...e, logprob: 0, top_logprobs: e.top_logprobs.map((t) => ({ ...t, logprob: 0 })) }));
    expect(strip(chatJoined)).toEqual(strip(chat));
    expectClose(chatJoined.flatMap((e) => [e.logprob, ...e.top_logprobs.map((t) => t.logprob)]), chat.flatMap((e) => [e.logprob, ...e.top_logprobs.map((t) => t.logprob)]));
  });

  it("are the model's raw log-softmax: the same whatever the temperature, penalties or bias", async () => {
    const base = { model: "gpt2-vocab", prompt: PROMPT, max_tokens: 1, logprobs: 5 };
    const greedy = (await ctx().client.completions.create({ ...base, temperature: 0 })).choices[0]!.logprobs!;
    // force the 5th most likely token with logit_bias at a high temperature: its reported logprob does not move
    const fifth = Object.entries(greedy.top_logprobs![0]!).sort((a, b) => b[1] - a[1])[4]!;
    const tokenId = await idOf(ctx().post, fifth[0]);
    const forced = await ctx().client.completions.create({
      ...base,
      temperature: 1.7,
      seed: 3,
      presence_penalty: 1,
      logit_bias: { [tokenId]: 100 },
    });
    const logprobs = forced.choices[0]!.logprobs!;
    expect(logprobs.tokens).toEqual([fifth[0]]);
    expectClose(logprobs.token_logprobs!, [fifth[1]]);
    expect(Object.keys(logprobs.top_logprobs![0]!)).toEqual(Object.keys(greedy.top_logprobs![0]!));
    expectClose(Object.values(logprobs.top_logprobs![0]!), Object.values(greedy.top_logprobs![0]!));
  });

  it("echo prepends the prompt, with null for its first token's logprob, streamed too", async () => {
    const request = { model: "gpt2-vocab", prompt: "Hello there, friend", max_tokens: 3, temperature: 0, echo: true, logprobs: 1 };
    const whole = (await ctx().client.completions.create(request)).choices[0]!;
    expect(whole.text.startsWith("Hello there, friend")).toBe(true);
    const { tokens, token_logprobs, top_logprobs } = whole.logprobs!;
    expect(tokens!.slice(0, 4)).toEqual(["Hello", " there", ",", " friend"]);
    expect(tokens).toHaveLength(7);
    expect(token_logprobs![0]).toBeNull();
    expect(top_logprobs![0]).toBeNull();
    expect(token_logprobs!.slice(1).every((v) => typeof v === "number" && v < 0)).toBe(true);
    const plain = (await ctx().client.completions.create({ ...request, echo: false })).choices[0]!;
    expect(whole.text).toBe("Hello there, friend" + plain.text);
    expectClose(whole.logprobs!.token_logprobs!.slice(4), plain.logprobs!.token_logprobs!);

    const stream = await ctx().client.completions.create({ ...request, stream: true });
    let text = "";
    const streamed: (number | null)[] = [];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      streamed.push(...(chunk.choices[0]?.logprobs?.token_logprobs ?? []));
    }
    expect(text).toBe(whole.text);
    expect(streamed[0]).toBeNull();
    expectClose(streamed.slice(1) as number[], token_logprobs!.slice(1));
    const echoedOnly = (await ctx().client.completions.create({ ...request, logprobs: null })).choices[0]!;
    expect(echoedOnly.text).toBe(whole.text);
    expect(echoedOnly.logprobs).toBeNull();
  });

  it("refuses out-of-range logprobs fields with 400 naming the field", async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ["/v1/completions", { model: "gpt2-vocab", prompt: "x", logprobs: 6 }, "logprobs"],
      ["/v1/chat/completions", { model: "tiny-llama", messages: [{ role: "user", content: "x" }], logprobs: true, top_logprobs: 21 }, "top_logprobs"],
      ["/v1/chat/completions", { model: "tiny-llama", messages: [{ role: "user", content: "x" }], top_logprobs: 2 }, "top_logprobs"],
    ];
    for (const [path, body, param] of cases) {
      const response = await ctx().post(path, body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { param: string } }).error.param).toBe(param);
    }
  });
});

/**
 * Logprobs of a repeated prompt may differ in the last float32 bits: the second request reuses the first one's cached
 * prefix, so its prompt runs in a different split.
 */
function expectClose(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(1e-5));
}

/** The id of a token of gpt2-vocab (one token's text), through /tokenize. */
async function idOf(post: (path: string, body: unknown) => Promise<Response>, text: string): Promise<number> {
  const response = await post("/tokenize", { model: "gpt2-vocab", prompt: text });
  const { tokens } = (await response.json()) as { tokens: number[] };
  if (tokens.length !== 1) throw new Error(`'${text}' is ${tokens.length} tokens`);
  return tokens[0]!;
}

import { expect, it } from "bun:test";
import { describeEachMode, jsonOf } from "./suite.ts";

const PROMPT = "Once upon a time";
const MESSAGES = [{ role: "user" as const, content: "Tell me a story." }];

interface RawCompletion {
  system_fingerprint: string;
  choices: { index: number; text: string; logprobs: { token_logprobs: number[] } | null }[];
  usage: { completion_tokens: number };
}

describeEachMode("sampling fields", (ctx) => {
  it("frequency and presence penalties follow OpenAI's formula at every step (checked against the raw logprobs)", async () => {
    const frequency = 0.7;
    const presence = 0.4;
    const completion = await ctx().client.chat.completions.create({
      model: "tiny-llama",
      messages: MESSAGES,
      max_tokens: 24,
      temperature: 0,
      frequency_penalty: frequency,
      presence_penalty: presence,
      logprobs: true,
      top_logprobs: 20,
    });
    const content = completion.choices[0]!.logprobs!.content!;
    expect(content.length).toBeGreaterThan(10);
    const counts = new Map<string, number>();
    let repeats = 0;
    for (const entry of content) {
      // greedy over penalised logits: the chosen token beats every listed alternative after the penalty
      const penalised = (token: string, logprob: number) => {
        const c = counts.get(token) ?? 0;
        return logprob - (c * frequency + (c > 0 ? presence : 0));
      };
      const chosen = penalised(entry.token, entry.logprob);
      for (const alt of entry.top_logprobs) expect(penalised(alt.token, alt.logprob)).toBeLessThanOrEqual(chosen + 1e-9);
      if ((counts.get(entry.token) ?? 0) > 0) repeats++;
      counts.set(entry.token, (counts.get(entry.token) ?? 0) + 1);
    }
    const plain = await ctx().client.chat.completions.create({ model: "tiny-llama", messages: MESSAGES, max_tokens: 24, temperature: 0 });
    expect(plain.choices[0]!.message.content).not.toBe(completion.choices[0]!.message.content);
    expect(repeats).toBeLessThan(content.length);
  });

  it("logit_bias -100 bans the greedy token and +100 forces any token", async () => {
    const base = { model: "gpt2-vocab", prompt: PROMPT, max_tokens: 1, temperature: 0, logprobs: 2 };
    const greedy = (await ctx().client.completions.create(base)).choices[0]!;
    const [first, second] = Object.entries(greedy.logprobs!.top_logprobs![0]!).sort((a, b) => b[1] - a[1]);
    const banned = await ctx().client.completions.create({ ...base, logit_bias: { [await idOf(ctx().post, first![0])]: -100 } });
    expect(banned.choices[0]!.text).toBe(second![0]);
    const forced = await ctx().client.completions.create({ ...base, max_tokens: 3, temperature: 1.5, seed: 9, logit_bias: { "50256": -100, "1000": 100 } });
    const thousand = await detokenize(ctx().post, [1000, 1000, 1000]);
    expect(forced.choices[0]!.text).toBe(thousand);
  });

  it("top_k 1 and min_p 1 reduce sampling at any temperature to greedy decoding; repetition_penalty 1 is neutral", async () => {
    const base = { model: "tiny-llama", prompt: PROMPT, max_tokens: 12 };
    const greedy = (await ctx().client.completions.create({ ...base, temperature: 0 })).choices[0]!.text;
    const hot = { ...base, temperature: 1.8, seed: 21 } as Record<string, unknown>;
    const topK = await jsonOf<RawCompletion>(await ctx().post("/v1/completions", { ...hot, top_k: 1 }));
    const minP = await jsonOf<RawCompletion>(await ctx().post("/v1/completions", { ...hot, min_p: 1 }));
    const sampled = await jsonOf<RawCompletion>(await ctx().post("/v1/completions", hot));
    expect(topK.choices[0]!.text).toBe(greedy);
    expect(minP.choices[0]!.text).toBe(greedy);
    expect(sampled.choices[0]!.text).not.toBe(greedy);
    const neutral = await jsonOf<RawCompletion>(await ctx().post("/v1/completions", { ...base, temperature: 0, repetition_penalty: 1, top_k: -1, min_p: 0 }));
    expect(neutral.choices[0]!.text).toBe(greedy);
    const penalised = await jsonOf<RawCompletion>(await ctx().post("/v1/completions", { ...base, temperature: 0, repetition_penalty: 2 }));
    expect(penalised.choices[0]!.text).not.toBe(greedy);
  });

  it("gives each choice of n its own seeded stream, for 63-bit and negative seeds, read from the body's own digits", async () => {
    const texts = async (seed: string, n = 3) => {
      const body = `{"model": "tiny-llama", "prompt": "${PROMPT}", "max_tokens": 10, "temperature": 1.3, "n": ${n}, "seed": ${seed}}`;
      const response = await ctx().post("/v1/completions", body);
      expect(response.status).toBe(200);
      return (await jsonOf<RawCompletion>(response)).choices.map((c) => c.text);
    };
    const max = await texts("9223372036854775807");
    expect(new Set(max).size).toBe(3);
    expect(await texts("9223372036854775807")).toEqual(max);
    // 2^63-1 and 2^63-2 are the same double: only the digits tell them apart
    expect((await texts("9223372036854775806"))[0]).not.toBe(max[0]);
    const s = await texts("41");
    const next = await texts("42");
    expect(s[1]).not.toBe(next[0]);
    expect(s[2]).not.toBe(next[1]);
    expect(new Set(await texts("-9223372036854775808")).size).toBe(3);
    const tooLarge = await ctx().post("/v1/completions", `{"model": "tiny-llama", "prompt": "x", "seed": 9223372036854775808}`);
    expect(tooLarge.status).toBe(400);
    expect(((await tooLarge.json()) as { error: { param: string } }).error.param).toBe("seed");
  });

  it("best_of returns the n candidates with the highest mean token logprob, counting every candidate's tokens", async () => {
    const base = { model: "tiny-llama", prompt: PROMPT, max_tokens: 6, temperature: 1.4, seed: 77 };
    const all = await jsonOf<RawCompletion>(await ctx().post("/v1/completions", { ...base, n: 4, logprobs: 0 }));
    const mean = (c: RawCompletion["choices"][number]) =>
      c.logprobs!.token_logprobs.length === 0 ? -Infinity : c.logprobs!.token_logprobs.reduce((a, b) => a + b, 0) / c.logprobs!.token_logprobs.length;
    const expected = [...all.choices].sort((a, b) => mean(b) - mean(a) || a.index - b.index).slice(0, 2).map((c) => c.text);
    const best = await ctx().client.completions.create({ ...base, n: 2, best_of: 4 });
    expect(best.choices.map((c) => c.text)).toEqual(expected);
    expect(best.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(best.choices.every((c) => c.logprobs === null)).toBe(true);
    expect(best.usage!.completion_tokens).toBe(all.usage.completion_tokens);
    const streamed = await ctx().post("/v1/completions", { ...base, n: 1, best_of: 2, stream: true });
    expect(streamed.status).toBe(400);
    expect(((await streamed.json()) as { error: { param: string } }).error.param).toBe("best_of");
    const fewer = await ctx().post("/v1/completions", { ...base, n: 3, best_of: 2 });
    expect(((await fewer.json()) as { error: { param: string } }).error.param).toBe("best_of");
  });

  it("sets system_fingerprint on every response and chunk: stable per model, different across models", async () => {
    const a = await ctx().client.completions.create({ model: "tiny-gpt2", prompt: "x", max_tokens: 2 });
    const b = await ctx().client.completions.create({ model: "tiny-gpt2", prompt: "y", max_tokens: 2 });
    const c = await ctx().client.chat.completions.create({ model: "tiny-llama", messages: MESSAGES, max_tokens: 2 });
    expect(a.system_fingerprint).toMatch(/^fp_[0-9a-f]{12}$/);
    expect(b.system_fingerprint).toBe(a.system_fingerprint!);
    expect(c.system_fingerprint).toMatch(/^fp_[0-9a-f]{12}$/);
    expect(c.system_fingerprint).not.toBe(a.system_fingerprint);
    const stream = await ctx().client.chat.completions.create({ model: "tiny-llama", messages: MESSAGES, max_tokens: 3, stream: true });
    for await (const chunk of stream) expect(chunk.system_fingerprint).toBe(c.system_fingerprint!);
  });

  it("refuses out-of-range sampling fields with 400 naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ presence_penalty: 2.5 }, "presence_penalty"],
      [{ frequency_penalty: -2.1 }, "frequency_penalty"],
      [{ logit_bias: { "5": 101 } }, "logit_bias"],
      [{ logit_bias: { abc: 1 } }, "logit_bias"],
      [{ logit_bias: { "99999999": 1 } }, "logit_bias"],
      [{ top_k: -2 }, "top_k"],
      [{ min_p: 1.5 }, "min_p"],
      [{ repetition_penalty: 0 }, "repetition_penalty"],
      [{ repetition_penalty: 2.5 }, "repetition_penalty"],
    ];
    for (const [fields, param] of cases) {
      for (const [path, body] of [
        ["/v1/completions", { model: "tiny-llama", prompt: "x", ...fields }],
        ["/v1/chat/completions", { model: "tiny-llama", messages: MESSAGES, ...fields }],
      ] as const) {
        const response = await ctx().post(path, body);
        expect({ path, fields, status: response.status }).toEqual({ path, fields, status: 400 });
        const error = ((await response.json()) as { error: { param: string } }).error;
        expect(error.param?.split(".")[0]).toBe(param);
      }
    }
  });
});

async function idOf(post: (path: string, body: unknown) => Promise<Response>, text: string): Promise<number> {
  const { tokens } = (await (await post("/tokenize", { model: "gpt2-vocab", prompt: text })).json()) as { tokens: number[] };
  if (tokens.length !== 1) throw new Error(`'${text}' is ${tokens.length} tokens`);
  return tokens[0]!;
}

async function detokenize(post: (path: string, body: unknown) => Promise<Response>, tokens: number[]): Promise<string> {
  return ((await (await post("/detokenize", { model: "gpt2-vocab", tokens })).json()) as { prompt: string }).prompt;
}

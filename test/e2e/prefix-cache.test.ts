import { afterAll, expect, it } from "bun:test";
import OpenAI from "openai";
import { startServer, type RunningServer } from "./harness.ts";
import { describeEachMode } from "./suite.ts";

const HISTORY = Array.from({ length: 40 }, (_, i) => (5 + i * 29) % 600);
const NEXT = [...HISTORY, 17, 250, 31, 99, 4, 8, 15, 16, 23, 42];

describeEachMode("prefix cache", (ctx, mode) => {
  let uncached: RunningServer | undefined;
  afterAll(async () => {
    await uncached?.stop();
  });

  it("reports reused prompt tokens in usage.prompt_tokens_details.cached_tokens and gives the text a server without the cache gives", async () => {
    uncached = await startServer({ mode, args: ["--prefix-cache-mb", "0"] });
    const plain = new OpenAI({ baseURL: `${uncached.baseURL}/v1`, apiKey: "unused", maxRetries: 0 });
    const request = (prompt: number[]) => ({ model: "tiny-gpt2", prompt, max_tokens: 12, temperature: 0 });

    const first = await ctx().client.completions.create(request(HISTORY));
    expect(first.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    const second = await ctx().client.completions.create(request(NEXT));
    // All 40 tokens of history (two blocks of 16 and a partial one).
    expect(second.usage).toMatchObject({ prompt_tokens: 50, prompt_tokens_details: { cached_tokens: 40 } });
    const without = await plain.completions.create(request(NEXT));
    expect(without.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(second.choices[0]!.text).toBe(without.choices[0]!.text);

    // Streamed, the usage chunk says the same.
    const stream = await ctx().client.completions.create({ ...request(NEXT), stream: true, stream_options: { include_usage: true } });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(without.choices[0]!.text);
    // The same prompt again: all but its last token, which must run for its logits.
    expect(usage?.prompt_tokens_details?.cached_tokens).toBe(49);
  });

  it("a chat's next turn reuses the history it repeats", async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: "system", content: "You are a patient assistant who answers questions about rivers in detail." },
      { role: "user", content: "Tell me about the longest rivers of the world and where they flow." },
    ];
    const turn1 = await ctx().client.chat.completions.create({ model: "tiny-llama", messages, max_tokens: 8, temperature: 0 });
    const history = turn1.usage!.prompt_tokens;
    expect(history).toBeGreaterThan(16);
    messages.push({ role: "assistant", content: turn1.choices[0]!.message.content ?? "" }, { role: "user", content: "And the shortest?" });
    const turn2 = await ctx().client.chat.completions.create({ model: "tiny-llama", messages, max_tokens: 8, temperature: 0 });
    const cached = turn2.usage!.prompt_tokens_details!.cached_tokens!;
    expect(cached).toBe(history);
    expect(turn2.usage!.prompt_tokens).toBeGreaterThan(history);
  });
});

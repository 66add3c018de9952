import { expect, it } from "bun:test";
import { BadRequestError } from "openai";
import { describeEachMode, errorOf, jsonOf, parseSse } from "./suite.ts";

const MESSAGES = [
  { role: "system" as const, content: "You are terse." },
  { role: "user" as const, content: "Say something about foxes." },
];

describeEachMode("POST /v1/chat/completions", (ctx) => {
  it("answers in OpenAI's chat.completion shape through the model's chat template", async () => {
    const completion = await ctx().client.chat.completions.create({
      model: "tiny-llama",
      messages: MESSAGES,
      max_tokens: 6,
      temperature: 0,
    });
    expect(completion.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe("tiny-llama");
    const [choice] = completion.choices;
    expect(choice?.message.role).toBe("assistant");
    expect(choice?.message.refusal).toBeNull();
    expect(choice?.logprobs).toBeNull();
    expect(typeof choice?.message.content).toBe("string");
    expect(["stop", "length"]).toContain(choice!.finish_reason);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    expect(completion.usage!.completion_tokens).toBeLessThanOrEqual(6);
  });

  it("counts the rendered template as the prompt, developer messages as system ones", async () => {
    const asSystem = await ctx().client.chat.completions.create({ model: "tiny-llama", messages: MESSAGES, max_tokens: 1 });
    const asDeveloper = await ctx().client.chat.completions.create({
      model: "tiny-llama",
      messages: [{ role: "developer", content: "You are terse." }, MESSAGES[1]!],
      max_tokens: 1,
    });
    expect(asDeveloper.usage?.prompt_tokens).toBe(asSystem.usage!.prompt_tokens);
    // The same ids, not just as many: a developer message renders exactly as a system one.
    const ids = async (messages: unknown) =>
      ((await (await ctx().post("/tokenize", { model: "tiny-llama", messages })).json()) as { tokens: number[] }).tokens;
    const systemIds = await ids(MESSAGES);
    expect(await ids([{ role: "developer", content: "You are terse." }, MESSAGES[1]])).toEqual(systemIds);
    expect(await ids([{ role: "user", content: "You are terse." }, MESSAGES[1]])).not.toEqual(systemIds);
    const asParts = await ctx().client.chat.completions.create({
      model: "tiny-llama",
      messages: [MESSAGES[0]!, { role: "user", content: [{ type: "text", text: "Say something about foxes." }] }],
      max_tokens: 1,
    });
    expect(asParts.usage?.prompt_tokens).toBe(asSystem.usage!.prompt_tokens);
    const longer = await ctx().client.chat.completions.create({
      model: "tiny-llama",
      messages: [...MESSAGES, { role: "assistant", content: "Foxes are quick." }, { role: "user", content: "More." }],
      max_tokens: 1,
    });
    expect(longer.usage!.prompt_tokens).toBeGreaterThan(asSystem.usage!.prompt_tokens);
  });

  it("accepts max_completion_tokens as the newer name of max_tokens", async () => {
    const completion = await ctx().client.chat.completions.create({
      model: "tiny-llama",
      messages: MESSAGES,
      max_completion_tokens: 3,
      temperature: 0,
    });
    expect(completion.usage!.completion_tokens).toBeLessThanOrEqual(3);
  });

  it("streams role, content deltas, finish and usage chunks in order, with the same text", async () => {
    const request = { model: "tiny-llama", messages: MESSAGES, max_tokens: 8, temperature: 0 };
    const whole = await ctx().client.chat.completions.create(request);
    const response = await ctx().post("/v1/chat/completions", {
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const events = parseSse(await response.text());
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === chunks[0].id)).toBe(true);
    expect(chunks[0].choices[0].delta).toEqual({ role: "assistant", content: "" });
    const usageChunk = chunks.at(-1);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual(whole.usage);
    const finish = chunks.at(-2).choices[0];
    expect(finish.delta).toEqual({});
    expect(finish.finish_reason).toBe(whole.choices[0]!.finish_reason as string);
    const middle = chunks.slice(1, -2);
    expect(middle.every((c) => c.usage === null && c.choices[0].finish_reason === null)).toBe(true);
    expect(middle.map((c) => c.choices[0].delta.content).join("")).toBe(whole.choices[0]!.message.content ?? "");
  });

  it("works with the SDK's stream helper", async () => {
    const request = { model: "tiny-llama", messages: MESSAGES, max_tokens: 8, temperature: 0 };
    const whole = await ctx().client.chat.completions.create(request);
    const runner = ctx().client.chat.completions.stream(request);
    let text = "";
    runner.on("content", (delta) => {
      text += delta;
    });
    const final = await runner.finalChatCompletion();
    expect(text).toBe(whole.choices[0]!.message.content!);
    expect(final.choices[0]!.message.content).toBe(whole.choices[0]!.message.content);
  });

  it("refuses messages that do not fit the context with OpenAI's chat wording", async () => {
    const response = await ctx().post("/v1/chat/completions", {
      model: "tiny-llama",
      messages: [{ role: "user", content: "word ".repeat(200) }],
      max_tokens: 100,
    });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("context_length_exceeded");
    expect(error.param).toBe("messages");
    expect(error.message).toMatch(
      /^This model's maximum context length is 256 tokens\. However, you requested (\d+) tokens \((\d+) in the messages, 100 in the completion\)\. Please reduce the length of the messages or completion\.$/,
    );
  });

  it("refuses a model without a chat template with advice on adding one", async () => {
    const response = await ctx().post("/v1/chat/completions", { model: "tiny-gpt2", messages: MESSAGES });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("chat_template_missing");
    expect(error.param).toBe("model");
    expect(error.message).toContain("chat_template");
    expect(error.message).toContain("registry");
  });

  it("refuses non-text content parts and unsupported options by name", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [
        { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "http://x" } }] }] },
        "messages[0].content[0]",
      ],
      [{ messages: MESSAGES, tools: [{ type: "custom", custom: { name: "f" } }] }, "tools[0].function"],
      [{ messages: MESSAGES, tool_choice: { type: "allowed_tools", allowed_tools: { mode: "auto", tools: [] } } }, "tool_choice"],
      [{ messages: MESSAGES, top_logprobs: 2 }, "top_logprobs"],
      [{ messages: MESSAGES, response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "string", format: "ipv4" } } } }, "response_format"],
      [{ messages: MESSAGES, stream_options: { include_usage: true } }, "stream_options"],
      [{ messages: [] }, "messages"],
      [{ messages: [{ role: "wizard", content: "x" }] }, "messages[0].role"],
      [{ messages: [{ role: "user" }] }, "messages[0].content"],
    ];
    for (const [body, param] of cases) {
      const response = await ctx().post("/v1/chat/completions", { model: "tiny-llama", ...body });
      expect(response.status).toBe(400);
      expect((await errorOf(response)).param).toBe(param);
    }
    const error = await ctx()
      .client.chat.completions.create({ model: "tiny-llama", messages: MESSAGES, n: 1, store: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
  });

  it("accepts neutral values of options it does not implement", async () => {
    const response = await ctx().post("/v1/chat/completions", {
      model: "tiny-llama",
      messages: MESSAGES,
      max_tokens: 1,
      n: 1,
      logprobs: false,
      response_format: { type: "text" },
      tool_choice: "none",
      store: false,
      metadata: { team: "a" },
      user: "u",
      service_tier: "auto",
    });
    expect(response.status).toBe(200);
    expect((await jsonOf(response)).object).toBe("chat.completion");
  });
});

import { expect, it } from "bun:test";
import { BadRequestError } from "openai";
import { describeEachMode, errorOf, jsonOf } from "./suite.ts";
import { parseTypedSse } from "./typed-sse.ts";

const INSTRUCTIONS = "You are terse.";
const QUESTION = "Say something about foxes.";
const CHAT_MESSAGES = [
  { role: "system" as const, content: INSTRUCTIONS },
  { role: "user" as const, content: QUESTION },
];

describeEachMode("POST /v1/responses", (ctx) => {
  const chatReference = (messages = CHAT_MESSAGES, maxTokens = 8) =>
    ctx().client.chat.completions.create({ model: "tiny-llama", messages, max_tokens: maxTokens, temperature: 0 });

  it("answers with the text and usage /v1/chat/completions gives the same greedy conversation", async () => {
    const chat = await chatReference();
    const response = await ctx().client.responses.create({
      model: "tiny-llama",
      instructions: INSTRUCTIONS,
      input: QUESTION,
      max_output_tokens: 8,
      temperature: 0,
    });
    expect(response.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(response.object).toBe("response");
    expect(response.model).toBe("tiny-llama");
    expect(response.output_text).toBe(chat.choices[0]!.message.content!);
    expect(response.output).toHaveLength(1);
    const [message] = response.output;
    expect(message).toMatchObject({ type: "message", role: "assistant" });
    expect(message?.type === "message" && message.content).toEqual([
      { type: "output_text", text: response.output_text, annotations: [], logprobs: [] },
    ]);
    // The same prompt again: the prefix cache now holds it for chat as it did for the response.
    const again = await chatReference();
    expect(response.usage).toEqual({
      input_tokens: chat.usage!.prompt_tokens,
      input_tokens_details: { cached_tokens: again.usage!.prompt_tokens_details!.cached_tokens!, cache_write_tokens: 0 },
      output_tokens: chat.usage!.completion_tokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: chat.usage!.total_tokens,
    });
    // The chat reference ran out of tokens, so the response says so the Responses way.
    expect(chat.choices[0]!.finish_reason).toBe("length");
    expect(response.status).toBe("incomplete");
    expect(response.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(response).toMatchObject({ instructions: INSTRUCTIONS, max_output_tokens: 8, temperature: 0, store: false });
  });

  it("reads multi-turn input items (developer, input_text and output_text parts) as the chat messages they are", async () => {
    const chat = await chatReference([
      ...CHAT_MESSAGES,
      { role: "assistant", content: "Foxes are quick." } as never,
      { role: "user", content: "More." },
    ]);
    const response = await ctx().post("/v1/responses", {
      model: "tiny-llama",
      input: [
        { role: "developer", content: INSTRUCTIONS },
        { role: "user", content: [{ type: "input_text", text: QUESTION }] },
        {
          type: "message",
          id: "msg_1",
          status: "completed",
          role: "assistant",
          content: [{ type: "output_text", text: "Foxes are quick.", annotations: [] }],
        },
        { type: "message", role: "user", content: "More." },
      ],
      max_output_tokens: 8,
      temperature: 0,
    });
    expect(response.status).toBe(200);
    const body = await jsonOf<{ output: Array<{ content: Array<{ text: string }> }>; usage: { input_tokens: number } }>(response);
    expect(body.output[0]!.content[0]!.text).toBe(chat.choices[0]!.message.content!);
    expect(body.usage.input_tokens).toBe(chat.usage!.prompt_tokens);
  });

  it("streams the SDK's typed events in order, numbered from 0, with the same text", async () => {
    const request = { model: "tiny-llama", instructions: INSTRUCTIONS, input: QUESTION, max_output_tokens: 6, temperature: 0 };
    const whole = await ctx().client.responses.create(request);
    const response = await ctx().post("/v1/responses", { ...request, stream: true });
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const events = parseTypedSse(await response.text()).map((e) => e.data);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const deltas = events.filter((e) => e.type === "response.output_text.delta");
    expect(events.map((e) => e.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      ...deltas.map(() => "response.output_text.delta"),
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.incomplete",
    ]);
    expect(deltas.map((e) => e.delta).join("")).toBe(whole.output_text);
    const itemIds = new Set(events.slice(3, -2).map((e) => e.item_id));
    expect(itemIds.size).toBe(1);
    const last = events.at(-1)!.response as typeof whole;
    expect(last.usage).toEqual(whole.usage);
    expect(last.output[0]).toMatchObject({ id: [...itemIds][0], status: "incomplete" });
    expect((events[0]!.response as typeof whole).status).toBe("in_progress");
  });

  it("works with the SDK's responses.stream helper and finalResponse()", async () => {
    const request = { model: "tiny-llama", input: QUESTION, max_output_tokens: 6, temperature: 0 };
    const whole = await ctx().client.responses.create(request);
    const stream = ctx().client.responses.stream(request);
    let text = "";
    stream.on("response.output_text.delta", (event) => {
      text += event.delta;
    });
    const final = await stream.finalResponse();
    expect(text).toBe(whole.output_text);
    expect(final.output_text).toBe(whole.output_text);
    const { input_tokens, output_tokens, total_tokens } = whole.usage!;
    expect(final.usage).toMatchObject({ input_tokens, output_tokens, total_tokens });
  });

  it("refuses fields a stateless server cannot honour, and malformed input, by name", async () => {
    const base = { model: "tiny-llama", input: QUESTION };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ store: true }, "store"],
      [{ previous_response_id: "resp_123" }, "previous_response_id"],
      [{ background: true }, "background"],
      [{ conversation: "conv_1" }, "conversation"],
      [{ include: ["message.output_text.logprobs"] }, "include"],
      [{ truncation: "auto" }, "truncation"],
      [{ reasoning: { effort: "high" } }, "reasoning"],
      [{ tools: [{ type: "web_search" }] }, "tools[0].type"],
      [{ tools: [{ type: "function", name: "f", parameters: { type: "object" } }], tool_choice: { type: "function", name: "g" } }, "tool_choice.name"],
      [{ text: { format: { type: "json_schema", name: "x" } } }, "text.format.schema"],
      [{ text: { format: { type: "json_schema", name: "x", schema: { type: "array", uniqueItems: true } } } }, "text.format.schema"],
      [{ tools: [{ type: "function", name: "f", parameters: { type: "object", properties: { a: { uniqueItems: true } } } }] }, "tools[0].parameters"],
      [{ input: [{ type: "function_call", name: "f", arguments: "{}" }] }, "input[0].call_id"],
      [{ stream_options: { include_obfuscation: false } }, "stream_options"],
      [{ input: [{ role: "user", content: [{ type: "input_image", image_url: "http://x" }] }] }, "input[0].content[0].type"],
      [{ input: [{ type: "reasoning", summary: [] }] }, "input[0].type"],
      [{ input: [{ role: "wizard", content: "x" }] }, "input[0].role"],
      [{ input: [] }, "input"],
      [{ max_output_tokens: 0 }, "max_output_tokens"],
      [{ input: "word ".repeat(300), max_output_tokens: 100 }, "input"],
      [{ bogus: 1 }, "bogus"],
    ];
    for (const [body, param] of cases) {
      const response = await ctx().post("/v1/responses", { ...base, ...body });
      expect({ param, status: response.status }).toEqual({ param, status: 400 });
      expect((await errorOf(response)).param).toBe(param);
    }
    const error = await ctx().client.responses.create({ ...base, store: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
  });

  it("accepts neutral values of the fields it does not implement", async () => {
    const response = await ctx().client.responses.create({
      model: "tiny-llama",
      input: QUESTION,
      max_output_tokens: 1,
      store: false,
      background: false,
      truncation: "disabled",
      text: { format: { type: "text" } },
      tool_choice: "auto",
      parallel_tool_calls: true,
      metadata: { team: "a" },
      user: "u",
      service_tier: "auto",
    });
    expect(response.metadata).toEqual({ team: "a" });
    expect(response.output_text.length).toBeGreaterThan(0);
  });
});

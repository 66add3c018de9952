import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import type { MessageCreateParamsNonStreaming } from "@anthropic-ai/sdk/resources/messages";
import { serverModes, startServer, type RunningServer } from "./harness.ts";
import { describeEachMode } from "./suite.ts";
import { parseTypedSse, singleBlockDeltas } from "./typed-sse.ts";

const SYSTEM = "You are terse.";
const QUESTION = "Say something about foxes.";
const WEATHER = {
  name: "get_weather",
  description: "Current weather",
  input_schema: {
    type: "object" as const,
    properties: { city: { type: "string", maxLength: 10 }, unit: { enum: ["c", "f"] } },
    required: ["city", "unit"],
    additionalProperties: false,
  },
};
const CHAT_MESSAGES = [
  { role: "system" as const, content: SYSTEM },
  { role: "user" as const, content: QUESTION },
];

/**
 * A Messages request; `temperature` is the Messages API's field that SDK 1.x no longer types, so requests are
 * built here rather than as literals the SDK's types would check.
 */
function messageRequest(fields: Record<string, unknown> = {}): MessageCreateParamsNonStreaming {
  return {
    model: "tiny-llama",
    system: SYSTEM,
    messages: [{ role: "user", content: QUESTION }],
    max_tokens: 8,
    temperature: 0,
    ...fields,
  } as MessageCreateParamsNonStreaming;
}

/** Reads an error response, checking it is Anthropic's envelope with exactly its fields. */
async function anthropicErrorOf(response: Response): Promise<{ type: string; message: string }> {
  const body = (await response.json()) as { type: string; error: { type: string; message: string }; request_id: unknown };
  if (Object.keys(body).sort().join() !== "error,request_id,type" || body.type !== "error") {
    throw new Error(`not an Anthropic error envelope: ${JSON.stringify(body)}`);
  }
  if (Object.keys(body.error).sort().join() !== "message,type") throw new Error(`not an Anthropic error: ${JSON.stringify(body)}`);
  return body.error;
}

/** The whole prompt a message billed: tokens read from the prefix cache are counted apart. */
function promptOf(message: { usage: { input_tokens: number | null; cache_read_input_tokens: number | null } }): number {
  return (message.usage.input_tokens ?? 0) + (message.usage.cache_read_input_tokens ?? 0);
}

describeEachMode("POST /v1/messages", (ctx) => {
  const anthropic = () => new Anthropic({ baseURL: ctx().server.baseURL, apiKey: "unused", maxRetries: 0 });
  const chatReference = (fields: Record<string, unknown> = {}) =>
    ctx().client.chat.completions.create({ model: "tiny-llama", messages: CHAT_MESSAGES, max_tokens: 8, temperature: 0, ...fields });

  it("answers with the text and usage /v1/chat/completions gives the same greedy conversation", async () => {
    const chat = await chatReference();
    const message = await anthropic().messages.create(messageRequest());
    expect(message.id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(message).toMatchObject({ type: "message", role: "assistant", model: "tiny-llama" });
    expect(message.content).toEqual([{ type: "text", text: chat.choices[0]!.message.content!, citations: null }]);
    expect(chat.choices[0]!.finish_reason).toBe("length");
    expect(message.stop_reason).toBe("max_tokens");
    expect(message.stop_sequence).toBeNull();
    // Anthropic bills prompt tokens read from the prefix cache apart; together they are chat's prompt_tokens.
    const again = await chatReference();
    expect(message.usage).toMatchObject({
      input_tokens: chat.usage!.prompt_tokens - again.usage!.prompt_tokens_details!.cached_tokens!,
      cache_read_input_tokens: again.usage!.prompt_tokens_details!.cached_tokens!,
      output_tokens: chat.usage!.completion_tokens,
    });
  });

  it("reads system and content as text blocks the same as strings", async () => {
    const asStrings = await anthropic().messages.create(messageRequest());
    const asBlocks = await anthropic().messages.create(
      messageRequest({
        system: [{ type: "text", text: SYSTEM }],
        messages: [{ role: "user", content: [{ type: "text", text: QUESTION }] }],
      }),
    );
    expect(asBlocks.content).toEqual(asStrings.content);
    expect(promptOf(asBlocks)).toBe(promptOf(asStrings));
  });

  it("stops at a stop sequence and names it, as chat's stop does", async () => {
    const full = (await chatReference({ max_tokens: 12 })).choices[0]!.message.content!;
    const stop = full.slice(4, 6);
    const chat = await chatReference({ max_tokens: 12, stop: ["never-there", stop] });
    const message = await anthropic().messages.create(messageRequest({ max_tokens: 12, stop_sequences: ["never-there", stop] }));
    expect(chat.choices[0]!.finish_reason).toBe("stop");
    expect(message.content).toEqual([{ type: "text", text: chat.choices[0]!.message.content!, citations: null }]);
    expect(message.content[0]!.type === "text" && message.content[0].text).toBe(full.slice(0, full.indexOf(stop)));
    expect(message.stop_reason).toBe("stop_sequence");
    expect(message.stop_sequence).toBe(stop);
  });

  it("streams Anthropic's events in order, with the same text and usage", async () => {
    const whole = await anthropic().messages.create(messageRequest());
    const response = await ctx().post("/v1/messages", { ...messageRequest(), stream: true });
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const events = parseTypedSse(await response.text()).map((e) => e.data);
    const deltas = singleBlockDeltas<{ type: string; text: string }>(events);
    expect(deltas.map((d) => d.type)).toEqual(deltas.map(() => "text_delta"));
    const text = deltas.map((d) => d.text).join("");
    expect([{ type: "text", text, citations: null }]).toEqual(whole.content as never);
    const start = events[0]!.message as typeof whole;
    expect(start).toMatchObject({ id: expect.stringMatching(/^msg_/), content: [], stop_reason: null });
    expect(start.usage.input_tokens).toBe(promptOf(whole));
    const delta = events.at(-2) as unknown as { delta: unknown; usage: typeof whole.usage };
    expect(delta.delta).toMatchObject({ stop_reason: "max_tokens", stop_sequence: null });
    expect(promptOf(delta)).toBe(promptOf(whole));
    expect(delta.usage.output_tokens).toBe(whole.usage.output_tokens);
  });

  it("works with the SDK's messages.stream helper and finalMessage()", async () => {
    const whole = await anthropic().messages.create(messageRequest());
    const stream = anthropic().messages.stream(messageRequest());
    let text = "";
    stream.on("text", (delta) => {
      text += delta;
    });
    const final = await stream.finalMessage();
    expect(final.content as unknown).toEqual(whole.content);
    const [block] = final.content;
    expect(text).toBe(block?.type === "text" ? block.text : "");
    expect(final.stop_reason).toBe(whole.stop_reason);
    expect(final.usage.output_tokens).toBe(whole.usage.output_tokens);
  });

  it("counts the tokens of a conversation as messages.create bills them", async () => {
    const counted = await anthropic().messages.countTokens({
      model: "tiny-llama",
      system: SYSTEM,
      messages: [{ role: "user", content: QUESTION }],
    });
    const message = await anthropic().messages.create(messageRequest({ max_tokens: 1 }));
    expect(counted).toEqual({ input_tokens: promptOf(message) });
    const chat = await chatReference({ max_tokens: 1 });
    expect(counted.input_tokens).toBe(chat.usage!.prompt_tokens);
  });

  it("answers errors in Anthropic's envelope with its status codes, naming the field", async () => {
    const cases: Array<[Record<string, unknown>, number, string, string]> = [
      [{ max_tokens: undefined }, 400, "invalid_request_error", "max_tokens"],
      [{ model: "no-such-model" }, 404, "not_found_error", "no-such-model"],
      [{ thinking: { type: "enabled", budget_tokens: 1024 } }, 400, "invalid_request_error", "thinking"],
      [{ messages: [{ role: "user", content: [{ type: "image", source: {} }] }] }, 400, "invalid_request_error", "messages[0].content[0].type"],
      [{ messages: [{ role: "user", content: "a" }, { role: "assistant", content: "b" }] }, 400, "invalid_request_error", "messages[1].role"],
      [{ temperature: 1.5 }, 400, "invalid_request_error", "temperature"],
      [{ tools: [{ type: "web_search_20250305", name: "web_search" }] }, 400, "invalid_request_error", "tools[0].type"],
      [{ tools: [WEATHER], tool_choice: { type: "tool", name: "nope" } }, 400, "invalid_request_error", "tool_choice.name"],
      [
        { tools: [{ ...WEATHER, input_schema: { type: "object", properties: { a: { type: "array", uniqueItems: true } } } }] },
        400,
        "invalid_request_error",
        "'tools[0].input_schema': the keyword 'uniqueItems'",
      ],
      [{ output_config: { format: { type: "json_schema", schema: { type: "array", uniqueItems: true } } } }, 400, "invalid_request_error", "'output_config.format.schema'"],
      [{ messages: [{ role: "user", content: [{ type: "tool_use", id: "x", name: "f", input: {} }] }] }, 400, "invalid_request_error", "messages[0].content[0].type"],
      [{ max_tokens: 1000 }, 400, "invalid_request_error", "maximum context length"],
      [{ model: "tiny-bert" }, 400, "invalid_request_error", "/v1/messages"],
      [{ bogus: true }, 400, "invalid_request_error", "bogus"],
    ];
    for (const [fields, status, type, named] of cases) {
      const response = await ctx().post("/v1/messages", messageRequest(fields));
      const error = await anthropicErrorOf(response);
      expect({ fields, status: response.status, type: error.type }).toEqual({ fields, status, type });
      expect(error.message).toContain(named);
    }
    const response = await ctx().post("/v1/messages/count_tokens", { model: "tiny-gpt2", messages: [{ role: "user", content: "x" }] });
    expect(response.status).toBe(400);
    expect((await anthropicErrorOf(response)).message).toContain("chat template");
    const refused = await anthropic().messages.create(messageRequest({ model: "no-such-model" })).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.NotFoundError);
  });
});

for (const mode of serverModes()) {
  describe(`POST /v1/messages with API keys [${mode}]`, () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer({ mode, args: ["--api-key", "secret-key"] });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it("accepts the key in x-api-key (as the SDK sends it, with anthropic-version) and refuses others in Anthropic's envelope", async () => {
      const client = (apiKey: string) => new Anthropic({ baseURL: server.baseURL, apiKey, maxRetries: 0 });
      const message = await client("secret-key").messages.create(messageRequest({ max_tokens: 1 }));
      expect(message.usage.output_tokens).toBe(1);
      const refused = await client("wrong").messages.create(messageRequest({ max_tokens: 1 })).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Anthropic.AuthenticationError);
      const response = await fetch(`${server.baseURL}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: JSON.stringify(messageRequest()),
      });
      expect(response.status).toBe(401);
      expect((await anthropicErrorOf(response)).type).toBe("authentication_error");
    });
  });
}


import { beforeAll, expect, it } from "bun:test";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import type { MessageCreateParamsNonStreaming } from "@anthropic-ai/sdk/resources/messages";
import type OpenAI from "openai";
import { temporaryRegistry } from "./fixture-folder.ts";
import { REPO_ROOT } from "./harness.ts";
import { describeEachMode } from "./suite.ts";
import { parseTypedSse, singleBlockDeltas } from "./typed-sse.ts";

/**
 * Tools and structured output on /v1/responses and /v1/messages, compared with what /v1/chat/completions answers
 * for the same greedy request: the same constrained decoding must give the same calls and documents. gpt2-vocab
 * (1,024 positions, room for the default tool prompt) gets a chat template through a registry.
 */

const MODEL = "gpt2-chat";
const TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}<|assistant|>";
const QUESTION = "Weather in Paris?";
const SCHEMA = {
  type: "object" as const,
  properties: { city: { type: "string", maxLength: 10 }, unit: { enum: ["c", "f"] } },
  required: ["city", "unit"],
  additionalProperties: false,
};
const WEATHER = { name: "get_weather", description: "Current weather", parameters: SCHEMA };

const REGISTRY = temporaryRegistry("gpt3dev-protocol-tools-", [{ name: MODEL, path: join(REPO_ROOT, "models", "gpt2-vocab"), chat_template: TEMPLATE }]);

describeEachMode(
  "tools and structured output on Responses and Messages",
  (ctx) => {
    let anthropic: Anthropic;
    beforeAll(() => {
      anthropic = new Anthropic({ baseURL: ctx().server.baseURL, apiKey: "unused", maxRetries: 0 });
    });

    /** The chat route's greedy call to get_weather: the reference both protocols must reproduce. */
    async function chatCall(messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: QUESTION }]) {
      const chat = await ctx().client.chat.completions.create({
        model: MODEL,
        messages,
        tools: [{ type: "function", function: WEATHER }],
        tool_choice: { type: "function", function: { name: "get_weather" } },
        max_tokens: 100,
        temperature: 0,
      });
      expect(chat.choices[0]!.finish_reason).toBe("tool_calls");
      const call = chat.choices[0]!.message.tool_calls![0]!;
      if (call.type !== "function") throw new Error("expected a function call");
      return call.function.arguments;
    }

    it("Responses: a function call with chat's arguments, streamed in the SDK's order", async () => {
      const args = await chatCall();
      const request = {
        model: MODEL,
        input: QUESTION,
        tools: [{ type: "function" as const, ...WEATHER, strict: true }],
        tool_choice: { type: "function" as const, name: "get_weather" },
        max_output_tokens: 100,
        temperature: 0,
      };
      const response = await ctx().client.responses.create(request);
      expect(response.status).toBe("completed");
      expect(response.output).toHaveLength(1);
      const call = response.output[0]!;
      expect(call).toMatchObject({ type: "function_call", status: "completed", name: "get_weather", arguments: args });
      expect(call.type === "function_call" && call.call_id).toMatch(/^call_[A-Za-z0-9]{24}$/);
      expect(call.type === "function_call" && call.id).toMatch(/^fc_[0-9a-f]{32}$/);
      expect(response.output_text).toBe("");

      const events = parseTypedSse(await (await ctx().post("/v1/responses", { ...request, stream: true })).text()).map((e) => e.data);
      const deltas = events.filter((e) => e.type === "response.function_call_arguments.delta");
      expect(events.map((e) => e.type)).toEqual([
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        ...deltas.map(() => "response.function_call_arguments.delta"),
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
      ]);
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
      expect(deltas.map((e) => e.delta).join("")).toBe(args);
      expect(events.at(-3)).toMatchObject({ arguments: args, name: "get_weather" });
      const final = await ctx().client.responses.stream(request).finalResponse();
      expect(final.output[0]).toMatchObject({ type: "function_call", name: "get_weather", arguments: args });
    });

    it("Responses: function_call and function_call_output items read as chat's tool call and tool message", async () => {
      const args = JSON.stringify({ city: "Paris", unit: "c" });
      const chat = await ctx().client.chat.completions.create({
        model: MODEL,
        messages: [
          { role: "user", content: QUESTION },
          { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: args } }] },
          { role: "tool", tool_call_id: "call_1", content: "Sunny, 21 C" },
        ],
        max_tokens: 8,
        temperature: 0,
      });
      const response = await ctx().client.responses.create({
        model: MODEL,
        input: [
          { role: "user", content: QUESTION },
          { type: "function_call", call_id: "call_1", name: "get_weather", arguments: args },
          { type: "function_call_output", call_id: "call_1", output: "Sunny, 21 C" },
        ],
        max_output_tokens: 8,
        temperature: 0,
      });
      expect(response.output_text).toBe(chat.choices[0]!.message.content!);
      expect(response.usage!.input_tokens).toBe(chat.usage!.prompt_tokens);
    });

    const chatJsonSchema = () =>
      ctx().client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: QUESTION }],
        response_format: { type: "json_schema", json_schema: { name: "weather", schema: SCHEMA } },
        max_tokens: 40,
        temperature: 0,
      });

    it("Responses: text.format json_schema gives chat's response_format document", async () => {
      const chat = await chatJsonSchema();
      const response = await ctx().client.responses.create({
        model: MODEL,
        input: QUESTION,
        text: { format: { type: "json_schema", name: "weather", schema: SCHEMA } },
        max_output_tokens: 40,
        temperature: 0,
      });
      expect(response.output_text).toBe(chat.choices[0]!.message.content!);
      expect(["c", "f"]).toContain(JSON.parse(response.output_text).unit);
    });

    const messageRequest = (fields: Record<string, unknown>) =>
      ({ model: MODEL, messages: [{ role: "user", content: QUESTION }], max_tokens: 100, temperature: 0, ...fields }) as MessageCreateParamsNonStreaming;
    const ANTHROPIC_TOOL = { name: WEATHER.name, description: WEATHER.description, input_schema: SCHEMA };

    it("Messages: a tool_use block with chat's arguments as input, streamed as input_json_delta", async () => {
      const args = await chatCall();
      const request = messageRequest({ tools: [ANTHROPIC_TOOL], tool_choice: { type: "tool", name: "get_weather" } });
      const message = await anthropic.messages.create(request);
      expect(message.stop_reason).toBe("tool_use");
      expect(message.content).toHaveLength(1);
      const [block] = message.content;
      if (block?.type !== "tool_use") throw new Error(`expected a tool_use block, got ${JSON.stringify(block)}`);
      expect(block.id).toMatch(/^toolu_[A-Za-z0-9]{24}$/);
      expect(block.name).toBe("get_weather");
      expect(block.input).toEqual(JSON.parse(args));

      const events = parseTypedSse(await (await ctx().post("/v1/messages", { ...request, stream: true })).text()).map((e) => e.data);
      const deltas = singleBlockDeltas<{ type: string; partial_json: string }>(events);
      expect(deltas.map((d) => d.type)).toEqual(deltas.map(() => "input_json_delta"));
      expect(deltas.map((d) => d.partial_json).join("")).toBe(args);
      expect(events[2]).toMatchObject({ index: 0, content_block: { type: "tool_use", name: "get_weather", input: {} } });
      expect(events.at(-2)).toMatchObject({ delta: { stop_reason: "tool_use" } });
      const final = await anthropic.messages.stream(request).finalMessage();
      expect(final.stop_reason).toBe("tool_use");
      expect(final.content[0]).toMatchObject({ type: "tool_use", name: "get_weather", input: block.input });
    });

    it("Messages: tool_use and tool_result blocks read as chat's tool call and tool message; count_tokens counts the tools", async () => {
      const input = { city: "Paris", unit: "c" };
      const chat = await ctx().client.chat.completions.create({
        model: MODEL,
        messages: [
          { role: "user", content: QUESTION },
          { role: "assistant", content: null, tool_calls: [{ id: "toolu_1", type: "function", function: { name: "get_weather", arguments: JSON.stringify(input) } }] },
          { role: "tool", tool_call_id: "toolu_1", content: "Sunny, 21 C" },
        ],
        max_tokens: 8,
        temperature: 0,
      });
      const messages = [
        { role: "user" as const, content: QUESTION },
        { role: "assistant" as const, content: [{ type: "tool_use" as const, id: "toolu_1", name: "get_weather", input }] },
        { role: "user" as const, content: [{ type: "tool_result" as const, tool_use_id: "toolu_1", content: [{ type: "text" as const, text: "Sunny, 21 C" }] }] },
      ];
      const message = await anthropic.messages.create(messageRequest({ messages, max_tokens: 8 }));
      expect(message.content).toEqual([{ type: "text", text: chat.choices[0]!.message.content!, citations: null }]);
      const billed = (m: typeof message) => m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0);
      expect(billed(message)).toBe(chat.usage!.prompt_tokens);
      const counted = await anthropic.messages.countTokens({ model: MODEL, messages, tools: [ANTHROPIC_TOOL] });
      const withTools = await anthropic.messages.create(messageRequest({ messages, tools: [ANTHROPIC_TOOL], max_tokens: 1 }));
      expect(counted.input_tokens).toBe(billed(withTools));
      expect(counted.input_tokens).toBeGreaterThan(billed(message));
    });

    it("Messages: output_config.format json_schema gives chat's response_format document", async () => {
      const chat = await chatJsonSchema();
      const message = await anthropic.messages.create(
        messageRequest({ output_config: { format: { type: "json_schema", schema: SCHEMA } }, max_tokens: 40 }),
      );
      expect(message.content).toEqual([{ type: "text", text: chat.choices[0]!.message.content!, citations: null }]);
      expect(message.stop_reason).toBe("end_turn");
    });
  },
  { args: ["--registry", REGISTRY] },
);

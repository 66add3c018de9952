import { expect, it } from "bun:test";
import { join } from "node:path";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateObject } from "ai";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import OpenAI from "openai";
import { z } from "zod";
import { temporaryRegistry } from "./fixture-folder.ts";
import { REPO_ROOT } from "./harness.ts";
import { describeEachMode } from "./suite.ts";

/**
 * Structured outputs and tool calls through the official SDK (and the AI SDK) on random-weight models at
 * temperature 1: the guarantee comes from constrained decoding, so every seed must give valid output.
 */

const ajv = new Ajv2020({ strict: false });
addFormats(ajv);
(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;
const JSON_HEADERS = { "content-type": "application/json" };
const SEEDS = [1, 2, 3];
const USER = [{ role: "user" as const, content: "Weather in Paris?" }];

// gpt2-vocab (the real GPT-2 vocabulary, 1,024 positions) given two chat templates: one that knows nothing of
// tools (the default tool prompt applies) and one that renders tools and tool calls itself.
const PLAIN_TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}<|assistant|>";
const TOOLS_TEMPLATE =
  "{% if tools %}<|tools|>{% for t in tools %}{{ t.function.name }};{% endfor %}\n{% endif %}" +
  "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}" +
  "{% if m.tool_calls %}{% for c in m.tool_calls %}<call>{{ c.function.name }}({{ c.function.arguments.city }})</call>{% endfor %}{% endif %}" +
  "{% if m.tool_call_id %}[{{ m.tool_call_id }}]{% endif %}\n{% endfor %}<|assistant|>";

const PERSON = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 12 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    email: { type: ["string", "null"], format: "email" },
    tags: { type: "array", items: { enum: ["a", "b", "c"] }, maxItems: 3 },
  },
  required: ["name", "age", "email", "tags"],
  additionalProperties: false,
};

const WEATHER: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather",
    strict: true,
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 10 }, unit: { enum: ["c", "f"] } },
      required: ["city", "unit"],
      additionalProperties: false,
    },
  },
};
const TIME: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_time",
    parameters: { type: "object", properties: { tz: { type: "integer", minimum: -12, maximum: 14 } }, required: ["tz"], additionalProperties: false },
  },
};
const TOOLS = [WEATHER, TIME];

function checkCall(call: OpenAI.ChatCompletionMessageToolCall): void {
  expect(call.type).toBe("function");
  expect(call.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
  if (call.type !== "function") return;
  const tool = TOOLS.find((t) => t.type === "function" && t.function.name === call.function.name);
  expect(tool).toBeDefined();
  const validate = ajv.compile(tool!.type === "function" ? tool!.function.parameters! : {});
  expect(validate(JSON.parse(call.function.arguments))).toBe(true);
}

const GPT2_VOCAB = join(REPO_ROOT, "models", "gpt2-vocab");
const REGISTRY = temporaryRegistry("gpt3dev-structured-", [
  { name: "gpt2-chat", path: GPT2_VOCAB, chat_template: PLAIN_TEMPLATE },
  { name: "gpt2-tools", path: GPT2_VOCAB, chat_template: TOOLS_TEMPLATE },
]);

describeEachMode(
  "structured outputs and tool calls",
  (ctx) => {
    it("json_schema (strict): every seed gives a document that validates, through chat.completions.parse", async () => {
      const validate = ajv.compile(PERSON);
      const texts = new Set<string>();
      for (const model of ["tiny-llama", "gpt2-chat"]) {
        for (const seed of SEEDS) {
          const completion = await ctx().client.chat.completions.parse({
            model,
            messages: USER,
            temperature: 1,
            seed,
            max_tokens: 120,
            response_format: { type: "json_schema", json_schema: { name: "person", strict: true, schema: PERSON } },
          });
          const choice = completion.choices[0]!;
          expect(choice.finish_reason).toBe("stop");
          expect(validate(choice.message.parsed)).toBe(true);
          expect(JSON.parse(choice.message.content!)).toEqual(choice.message.parsed);
          expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
          texts.add(choice.message.content!);
        }
      }
      expect(texts.size).toBe(SEEDS.length * 2);
    });

    it("json_object: every seed gives a JSON object (or a valid prefix of one when cut by max_tokens)", async () => {
      for (const seed of SEEDS) {
        const completion = await ctx().client.chat.completions.create({
          model: "tiny-llama",
          messages: USER,
          seed,
          max_tokens: 60,
          response_format: { type: "json_object" },
        });
        const { content } = completion.choices[0]!.message;
        if (completion.choices[0]!.finish_reason === "stop") {
          const value: unknown = JSON.parse(content!);
          expect(typeof value === "object" && value !== null && !Array.isArray(value)).toBe(true);
        } else expect(content!.startsWith("{")).toBe(true);
      }
    });

    it("a schema with short instances closes inside a small max_tokens, even with an unbounded string", async () => {
      const schema = { type: "object", properties: { note: { type: "string" }, ok: { type: "boolean" } }, required: ["note", "ok"], additionalProperties: false };
      for (const seed of [...SEEDS, 4, 5]) {
        const completion = await ctx().client.chat.completions.create({
          model: "tiny-llama",
          messages: USER,
          seed,
          max_tokens: 24,
          response_format: { type: "json_schema", json_schema: { name: "n", schema } },
        });
        expect(completion.choices[0]!.finish_reason).toBe("stop");
        expect(ajv.validate(schema, JSON.parse(completion.choices[0]!.message.content!))).toBe(true);
        expect(completion.usage!.completion_tokens).toBeLessThanOrEqual(24);
      }
    });

    it("n > 1 and streaming keep each choice's constraint, and a seed gives the same document streamed or not", async () => {
      const request = {
        model: "gpt2-chat",
        messages: USER,
        seed: 7,
        n: 3,
        max_tokens: 80,
        response_format: { type: "json_schema" as const, json_schema: { name: "person", schema: PERSON } },
      };
      const whole = await ctx().client.chat.completions.create(request);
      const streamed = ["", "", ""];
      for await (const chunk of await ctx().client.chat.completions.create({ ...request, stream: true })) {
        for (const c of chunk.choices) streamed[c.index] += c.delta.content ?? "";
      }
      expect(streamed).toEqual(whole.choices.map((c) => c.message.content!));
      for (const text of streamed) expect(ajv.validate(PERSON, JSON.parse(text))).toBe(true);
    });

    it("tool_choice required: tool_calls with valid arguments, content null, finish_reason tool_calls", async () => {
      for (const model of ["gpt2-chat", "gpt2-tools"]) {
        for (const seed of SEEDS) {
          const completion = await ctx().client.chat.completions.create({ model, messages: USER, seed, tools: TOOLS, tool_choice: "required", max_tokens: 150 });
          const choice = completion.choices[0]!;
          expect(choice.finish_reason).toBe("tool_calls");
          expect(choice.message.content).toBeNull();
          expect(choice.message.tool_calls!.length).toBeGreaterThan(0);
          choice.message.tool_calls!.forEach(checkCall);
        }
      }
    });

    it("a named tool_choice calls that tool once; parallel_tool_calls false makes one call", async () => {
      for (const seed of SEEDS) {
        const named = await ctx().client.chat.completions.create({
          model: "gpt2-chat",
          messages: USER,
          seed,
          tools: TOOLS,
          tool_choice: { type: "function", function: { name: "get_time" } },
          max_tokens: 100,
        });
        expect(named.choices[0]!.message.tool_calls!.map((c) => c.type === "function" && c.function.name)).toEqual(["get_time"]);
        named.choices[0]!.message.tool_calls!.forEach(checkCall);
        const single = await ctx().client.chat.completions.create({ model: "gpt2-chat", messages: USER, seed, tools: TOOLS, tool_choice: "required", parallel_tool_calls: false, max_tokens: 150 });
        expect(single.choices[0]!.message.tool_calls!.length).toBe(1);
      }
    });

    it("tool_choice none answers with text; auto answers with text or valid calls", async () => {
      for (const seed of SEEDS) {
        const none = await ctx().client.chat.completions.create({ model: "gpt2-chat", messages: USER, seed, tools: TOOLS, tool_choice: "none", max_tokens: 8 });
        expect(none.choices[0]!.message.tool_calls).toBeUndefined();
        expect(typeof none.choices[0]!.message.content).toBe("string");
        const auto = await ctx().client.chat.completions.create({ model: "gpt2-chat", messages: USER, seed, tools: TOOLS, max_tokens: 60 });
        const choice = auto.choices[0]!;
        if (choice.message.tool_calls) {
          expect(choice.finish_reason).toBe("tool_calls");
          choice.message.tool_calls.forEach(checkCall);
        } else {
          expect(choice.message.content!.startsWith("<")).toBe(false);
          expect(["stop", "length"]).toContain(choice.finish_reason);
        }
      }
    });

    it("streams tool calls as OpenAI does, so the SDK's stream helper assembles the same calls", async () => {
      for (const seed of SEEDS) {
        const request = { model: "gpt2-chat", messages: USER, seed, tools: TOOLS, tool_choice: "required" as const, max_tokens: 150 };
        const whole = await ctx().client.chat.completions.create(request);
        const stream = ctx().client.chat.completions.stream(request);
        const deltas: OpenAI.ChatCompletionChunk.Choice.Delta[] = [];
        stream.on("chunk", (chunk) => deltas.push(...chunk.choices.map((c) => c.delta)));
        const final = await stream.finalChatCompletion();
        const calls = final.choices[0]!.message.tool_calls!;
        expect(final.choices[0]!.finish_reason).toBe("tool_calls");
        const strip = (cs: OpenAI.ChatCompletionMessageToolCall[]) => cs.map((c) => (c.type === "function" ? [c.function.name, c.function.arguments] : []));
        expect(strip(calls)).toEqual(strip(whole.choices[0]!.message.tool_calls!));
        calls.forEach(checkCall);
        // The first delta carries the role, the first call's id, type and name; later ones only argument text.
        expect(deltas[0]!.role).toBe("assistant");
        expect(deltas[0]!.tool_calls![0]).toMatchObject({ index: 0, type: "function", function: { name: calls[0]!.type === "function" ? calls[0]!.function.name : "" } });
        const argumentDeltas = deltas.flatMap((d) => d.tool_calls ?? []).filter((t) => t.id === undefined);
        expect(argumentDeltas.length).toBeGreaterThan(1);
        for (const d of argumentDeltas) expect(d.function?.name).toBeUndefined();
      }
    });

    it("takes a tool-result round trip, rendered by a template that knows tools", async () => {
      const history: OpenAI.ChatCompletionMessageParam[] = [
        ...USER,
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris","unit":"c"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: "sunny" },
      ];
      const completion = await ctx().client.chat.completions.create({ model: "gpt2-tools", messages: history, tools: TOOLS, tool_choice: "none", max_tokens: 4 });
      // tool_choice none shows no tools; the template wrote the call with its parsed arguments and the result
      // (chat templates trim the newline after a block tag).
      const expected = "<|user|>Weather in Paris?<|assistant|><call>get_weather(Paris)</call><|tool|>sunny[call_1]<|assistant|>";
      const tokens = await (await fetch(`${ctx().server.baseURL}/tokenize`, { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ model: "gpt2-tools", prompt: expected }) })).json() as { count: number };
      expect(completion.usage!.prompt_tokens).toBe(tokens.count);
      // With a template that knows no tools, the round trip is written in with the default tool prompt.
      const plain = await ctx().client.chat.completions.create({ model: "gpt2-chat", messages: history, tools: TOOLS, tool_choice: "required", max_tokens: 150, seed: 1 });
      expect(plain.choices[0]!.finish_reason).toBe("tool_calls");
      const bare = await ctx().client.chat.completions.create({ model: "gpt2-chat", messages: USER, tools: TOOLS, tool_choice: "required", max_tokens: 1 });
      expect(plain.usage!.prompt_tokens).toBeGreaterThan(bare.usage!.prompt_tokens);
    });

    it("refuses a schema keyword it cannot enforce, naming the field and the keyword", async () => {
      const format = await fetch(`${ctx().server.baseURL}/v1/chat/completions`, {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify({ model: "tiny-llama", messages: USER, response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object", properties: { n: { type: "integer", multipleOf: 5 } } } } } }),
      });
      expect(format.status).toBe(400);
      const formatError = ((await format.json()) as { error: { param: string; message: string } }).error;
      expect(formatError.param).toBe("response_format");
      expect(formatError.message).toContain("multipleOf");
      const tool = await fetch(`${ctx().server.baseURL}/v1/chat/completions`, {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify({ model: "tiny-llama", messages: USER, tools: [WEATHER, { type: "function", function: { name: "f", parameters: { type: "object", properties: { a: { type: "array", uniqueItems: true } } } } }] }),
      });
      expect(tool.status).toBe(400);
      const toolError = ((await tool.json()) as { error: { param: string; message: string } }).error;
      expect(toolError.param).toBe("tools[1].function.parameters");
      expect(toolError.message).toContain("uniqueItems");
    });

    it("serves the AI SDK's generateObject with a zod schema", async () => {
      const provider = createOpenAICompatible({ name: "gpt3dev", baseURL: `${ctx().server.baseURL}/v1`, supportsStructuredOutputs: true });
      const schema = z.object({ city: z.string().max(10), days: z.number().int().min(1).max(7), sunny: z.boolean() });
      for (const seed of SEEDS) {
        const { object } = await generateObject({ model: provider.chatModel("gpt2-chat"), schema, prompt: "Forecast?", seed, maxRetries: 0, maxOutputTokens: 80 });
        expect(schema.parse(object)).toEqual(object);
      }
    });
  },
  { args: ["--registry", REGISTRY] },
);

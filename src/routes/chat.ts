import { Elysia } from "elysia";
import type { CompletionEvent, CompletionRun } from "../engine/completions.ts";
import type { Engine } from "../engine/engine.ts";
import type { Limits } from "../config.ts";
import {
  ChatCompletionCreateParams,
  type ChatCompletion,
  type ChatCompletionChoice,
  type ChatCompletionChunk,
} from "../openai/chat.ts";
import { refuseUnsupportedChatOptions, toChatMessages, toTemplateChoice } from "./chat-messages.ts";
import { toOutputFormat, toToolSet } from "./chat-structured.ts";
import { exactSeedOf } from "../http/exact-seed.ts";
import { toEngineSampling, usageOf } from "./generation-params.ts";
import { serveChat } from "./chat-service.ts";
import { envelope, exchangeOf, type Head } from "./generation-response.ts";
import { toChatLogprobs } from "./logprobs-format.ts";
import { checkChatLimits } from "./limits.ts";

export const chatRoutes = (engine: Engine, limits: Limits) =>
  new Elysia({ name: "chat" }).post(
    "/v1/chat/completions",
    ({ body, request, server }) => {
      refuseUnsupportedChatOptions(body);
      checkChatLimits(body, limits);
      const sampling = toEngineSampling(body, exactSeedOf(request));
      const messages = toChatMessages(body.messages);
      const format = toOutputFormat(body.response_format);
      const tools = toToolSet(body);
      const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
      const logprobs = body.logprobs === true ? (body.top_logprobs ?? 0) : undefined;
      const template = toTemplateChoice(body, limits);
      return serveChat(
        engine,
        exchangeOf({ request, server }, body, limits.requestTimeoutSeconds),
        {
          ...sampling,
          model: body.model,
          messages,
          ...(template === undefined ? {} : { template }),
          maxTokens,
          ...(format.type === "text" ? {} : { format }),
          tools,
          ...(logprobs === undefined ? {} : { logprobs }),
        },
        {
          idPrefix: "chatcmpl-",
          collect: (run, head) => collect(run, head, sampling.n, logprobs !== undefined),
          chunks: streamChunks,
        },
      );
    },
    { body: ChatCompletionCreateParams },
  );

async function collect(run: CompletionRun, head: Head, choiceCount: number, withLogprobs: boolean): Promise<ChatCompletion> {
  const choices: ChatCompletionChoice[] = Array.from({ length: choiceCount }, (_, index) => ({
    index,
    message: { role: "assistant", content: "", refusal: null },
    finish_reason: null,
    logprobs: withLogprobs ? { content: [], refusal: null } : null,
  }));
  for await (const event of run.events()) {
    const choice = choices[event.index];
    if (!choice) continue;
    const message = choice.message;
    if (event.kind === "text") {
      message.content += event.text;
      if (event.logprobs && choice.logprobs) choice.logprobs.content!.push(...toChatLogprobs(event.logprobs));
    }
    else if (event.kind === "tool_call") {
      (message.tool_calls ??= [])[event.call] = { id: event.id, type: "function", function: { name: event.name, arguments: "" } };
    } else if (event.kind === "tool_arguments") message.tool_calls![event.call]!.function.arguments += event.text;
    else choice.finish_reason = event.reason;
  }
  // A turn of tool calls has no text content, as OpenAI answers it.
  for (const { message } of choices) if (message.tool_calls && !message.content) message.content = null;
  return { ...envelope(head, "chat.completion"), choices, usage: usageOf(run) };
}

type Delta = ChatCompletionChunk["choices"][number]["delta"];

/**
 * OpenAI's order per choice: a role delta (with the first tool call's id and name when the turn opens with one),
 * content or tool-call argument deltas, an empty delta with finish_reason; then usage.
 */
async function* streamChunks(run: CompletionRun, head: Head, includeUsage: boolean): AsyncGenerator<ChatCompletionChunk> {
  const usage = includeUsage ? { usage: null } : {};
  const chunk = (index: number, delta: Delta, event?: CompletionEvent) => ({
    ...envelope(head, "chat.completion.chunk"),
    choices: [
      {
        index,
        delta,
        finish_reason: event?.kind === "finish" ? event.reason : null,
        logprobs: event?.kind === "text" && event.logprobs ? { content: toChatLogprobs(event.logprobs), refusal: null } : null,
      },
    ],
    ...usage,
  });
  const started = new Set<number>();
  for await (const event of run.events()) {
    let delta: Delta;
    if (event.kind === "text") delta = { content: event.text };
    else if (event.kind === "tool_call") {
      delta = { tool_calls: [{ index: event.call, id: event.id, type: "function", function: { name: event.name, arguments: "" } }] };
    } else if (event.kind === "tool_arguments") delta = { tool_calls: [{ index: event.call, function: { arguments: event.text } }] };
    else delta = {};
    if (!started.has(event.index)) {
      started.add(event.index);
      if (event.kind === "tool_call") {
        yield chunk(event.index, { role: "assistant", content: null, ...delta });
        continue;
      }
      yield chunk(event.index, { role: "assistant", content: "" });
    }
    yield chunk(event.index, delta, event);
  }
  if (includeUsage) yield { ...envelope(head, "chat.completion.chunk"), choices: [], usage: usageOf(run) };
}

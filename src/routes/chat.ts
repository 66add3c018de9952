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
import { refuseUnsupportedChatOptions, toChatMessages } from "./chat-messages.ts";
import { toEngineSampling, usageOf } from "./generation-params.ts";
import { serveChat } from "./chat-service.ts";
import { envelope, exchangeOf, type Head } from "./generation-response.ts";
import { checkChatLimits } from "./limits.ts";

export const chatRoutes = (engine: Engine, limits: Limits) =>
  new Elysia({ name: "chat" }).post(
    "/v1/chat/completions",
    ({ body, request, server }) => {
      refuseUnsupportedChatOptions(body);
      checkChatLimits(body, limits);
      const sampling = toEngineSampling(body);
      const messages = toChatMessages(body.messages);
      const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
      return serveChat(
        engine,
        exchangeOf({ request, server }, body, limits.requestTimeoutSeconds),
        { ...sampling, model: body.model, messages, maxTokens },
        {
          idPrefix: "chatcmpl-",
          collect: (run, head) => collect(run, head, sampling.n),
          chunks: streamChunks,
        },
      );
    },
    { body: ChatCompletionCreateParams },
  );

async function collect(run: CompletionRun, head: Head, choiceCount: number): Promise<ChatCompletion> {
  const choices: ChatCompletionChoice[] = Array.from({ length: choiceCount }, (_, index) => ({
    index,
    message: { role: "assistant", content: "", refusal: null },
    finish_reason: null,
    logprobs: null,
  }));
  for await (const event of run.events()) {
    const choice = choices[event.index];
    if (!choice) continue;
    if (event.kind === "text") choice.message.content += event.text;
    else choice.finish_reason = event.reason;
  }
  return { ...envelope(head, "chat.completion"), choices, usage: usageOf(run) };
}

/** OpenAI's order per choice: a role delta, content deltas, an empty delta with finish_reason; then usage. */
async function* streamChunks(run: CompletionRun, head: Head, includeUsage: boolean): AsyncGenerator<ChatCompletionChunk> {
  const usage = includeUsage ? { usage: null } : {};
  const chunk = (index: number, delta: ChatCompletionChunk["choices"][number]["delta"], event?: CompletionEvent) => ({
    ...envelope(head, "chat.completion.chunk"),
    choices: [{ index, delta, finish_reason: event?.kind === "finish" ? event.reason : null, logprobs: null }],
    ...usage,
  });
  const started = new Set<number>();
  for await (const event of run.events()) {
    if (!started.has(event.index)) {
      started.add(event.index);
      yield chunk(event.index, { role: "assistant", content: "" });
    }
    yield event.kind === "text" ? chunk(event.index, { content: event.text }) : chunk(event.index, {}, event);
  }
  if (includeUsage) yield { ...envelope(head, "chat.completion.chunk"), choices: [], usage: usageOf(run) };
}

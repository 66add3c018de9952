import { Elysia } from "elysia";
import type { Limits } from "../config.ts";
import type { CompletionRun } from "../engine/completions.ts";
import type { Engine } from "../engine/engine.ts";
import { toAnthropicError } from "../anthropic-errors.ts";
import {
  MessageCountTokensParams,
  MessageCreateParams,
  type Message,
  type MessageTokensCount,
  type Usage,
} from "../anthropic/messages.ts";
import type { RawMessageStreamEvent } from "../anthropic/streaming.ts";
import { checkConversationLength, serveChat, type ChatFields } from "./chat-service.ts";
import { exchangeOf, type GenerationFormat, type Head } from "./generation-response.ts";
import { MessageContentBuilder } from "./messages-output.ts";
import { toChatRequest, toConversation } from "./messages-request.ts";
import { typedEventFraming } from "./sse.ts";

/** Anthropic's Messages API over the shared chat path; app.ts gives these routes Anthropic's error envelope. */
export const messagesRoutes = (engine: Engine, limits: Limits) =>
  new Elysia({ name: "messages" })
    .post(
      "/v1/messages",
      ({ body, request, server }) => {
        const exchange = exchangeOf({ request, server }, body, limits.requestTimeoutSeconds);
        return serveChat(engine, exchange, toChatRequest(body, limits), MESSAGE_FORMAT, FIELDS);
      },
      { body: MessageCreateParams },
    )
    .post(
      "/v1/messages/count_tokens",
      async ({ body }): Promise<MessageTokensCount> => {
        const { messages, tools } = toConversation(body);
        checkConversationLength(messages, "messages", limits);
        const { tokens } = await engine.tokenize({ model: body.model, messages, ...(tools ? { tools } : {}) });
        return { input_tokens: tokens.length };
      },
      { body: MessageCountTokensParams },
    );

const FIELDS: ChatFields = {
  route: "/v1/messages",
  conversation: "messages",
  format: "output_config.format.schema",
  tool: (i) => `tools[${i}].input_schema`,
};

const MESSAGE_FORMAT: GenerationFormat<Message> = {
  idPrefix: "msg_",
  collect,
  chunks: streamEvents,
  framing: typedEventFraming((error) => ({ type: "error", error: toAnthropicError(error).toBody().error })),
};

/**
 * Anthropic counts prompt tokens read from a cache apart: `input_tokens` + `cache_read_input_tokens` is the whole
 * prompt (what count_tokens answers). `cachedTokens` is known once generation has ended.
 */
function usageOf(promptTokens: number, outputTokens: number, cachedTokens = 0): Usage {
  return {
    input_tokens: promptTokens - cachedTokens,
    output_tokens: outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cachedTokens,
    cache_creation: null,
    inference_geo: null,
    output_tokens_details: null,
    server_tool_use: null,
    service_tier: "standard",
    speed: null,
  };
}

function messageOf(head: Head, builder: MessageContentBuilder, usage: Usage): Message {
  return {
    id: head.id,
    type: "message",
    role: "assistant",
    content: builder.content,
    model: head.model,
    ...builder.stop,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage,
  };
}

async function collect(run: CompletionRun, head: Head): Promise<Message> {
  const builder = new MessageContentBuilder();
  // The whole message needs only the blocks the builder keeps; the stream events are dropped.
  for await (const event of run.events()) drain(builder.push(event));
  drain(builder.end());
  return messageOf(head, builder, usageOf(run.promptTokens, run.completionTokens, run.cachedTokens));
}

/**
 * Anthropic's order: message_start, a ping, each content block's events; message_delta with the stop reason and
 * usage once generation has ended; message_stop.
 */
async function* streamEvents(run: CompletionRun, head: Head): AsyncGenerator<RawMessageStreamEvent> {
  yield { type: "message_start", message: messageOf(head, new MessageContentBuilder(), usageOf(run.promptTokens, 0)) };
  yield { type: "ping" };
  const builder = new MessageContentBuilder();
  for await (const event of run.events()) yield* builder.push(event);
  yield* builder.end();
  yield {
    type: "message_delta",
    delta: { ...builder.stop, stop_details: null, container: null },
    usage: {
      input_tokens: run.promptTokens - run.cachedTokens,
      output_tokens: run.completionTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: run.cachedTokens,
      output_tokens_details: null,
      server_tool_use: null,
    },
  };
  yield { type: "message_stop" };
}

function drain(events: Iterable<unknown>): void {
  for (const _ of events);
}

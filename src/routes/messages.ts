import { Elysia } from "elysia";
import type { Limits } from "../config.ts";
import type { CompletionEvent, CompletionRun } from "../engine/completions.ts";
import type { Engine } from "../engine/engine.ts";
import { toAnthropicError } from "../anthropic-errors.ts";
import {
  MessageCountTokensParams,
  MessageCreateParams,
  type ContentBlock,
  type Message,
  type MessageTokensCount,
  type StopReason,
  type Usage,
} from "../anthropic/messages.ts";
import type { RawMessageStreamEvent } from "../anthropic/streaming.ts";
import { serveChat } from "./chat-service.ts";
import { exchangeOf, type Head } from "./generation-response.ts";
import { checkConversationLength } from "./chat-service.ts";
import { toChatMessages, toChatRequest } from "./messages-request.ts";
import { typedEventFraming } from "./sse.ts";

/** Anthropic's Messages API over the shared chat path; app.ts gives these routes Anthropic's error envelope. */
export const messagesRoutes = (engine: Engine, limits: Limits) =>
  new Elysia({ name: "messages" })
    .post(
      "/v1/messages",
      ({ body, request, server }) =>
        serveChat(engine, exchangeOf({ request, server }, body, limits.requestTimeoutSeconds), toChatRequest(body, limits), {
          idPrefix: "msg_",
          collect,
          chunks: streamEvents,
          framing,
        }),
      { body: MessageCreateParams },
    )
    .post(
      "/v1/messages/count_tokens",
      async ({ body }): Promise<MessageTokensCount> => {
        const messages = toChatMessages(body);
        checkConversationLength(messages, "messages", limits);
        const { tokens } = await engine.tokenize({ model: body.model, messages });
        return { input_tokens: tokens.length };
      },
      { body: MessageCountTokensParams },
    );

const framing = typedEventFraming((error) => ({ type: "error", error: toAnthropicError(error).toBody().error }));

type Finish = Extract<CompletionEvent, { kind: "finish" }>;

function stopOf(finish: Finish | undefined): Pick<Message, "stop_reason" | "stop_sequence"> {
  if (!finish) return { stop_reason: null, stop_sequence: null };
  const reason: StopReason =
    finish.reason === "length" ? "max_tokens" : finish.stopSequence === undefined ? "end_turn" : "stop_sequence";
  return { stop_reason: reason, stop_sequence: finish.stopSequence ?? null };
}

function usageOf(inputTokens: number, outputTokens: number): Usage {
  return {
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: null,
    inference_geo: null,
    output_tokens_details: null,
    server_tool_use: null,
    service_tier: "standard",
    speed: null,
  };
}

function messageOf(head: Head, content: ContentBlock[], finish: Finish | undefined, usage: Usage): Message {
  return {
    id: head.id,
    type: "message",
    role: "assistant",
    content,
    model: head.model,
    ...stopOf(finish),
    stop_details: null,
    container: null,
    diagnostics: null,
    usage,
  };
}

async function collect(run: CompletionRun, head: Head): Promise<Message> {
  let text = "";
  let finish: Finish | undefined;
  for await (const event of run.events()) {
    if (event.kind === "text") text += event.text;
    else finish = event;
  }
  const content: ContentBlock[] = text ? [{ type: "text", text, citations: null }] : [];
  return messageOf(head, content, finish, usageOf(run.promptTokens, run.completionTokens));
}

/**
 * Anthropic's order: message_start, a ping, then per content block its start, deltas and stop; message_delta with
 * the stop reason and usage once generation has ended; message_stop.
 */
async function* streamEvents(run: CompletionRun, head: Head): AsyncGenerator<RawMessageStreamEvent> {
  yield { type: "message_start", message: messageOf(head, [], undefined, usageOf(run.promptTokens, 0)) };
  yield { type: "ping" };
  let open = false;
  let finish: Finish | undefined;
  for await (const event of run.events()) {
    if (event.kind === "finish") {
      finish = event;
      continue;
    }
    if (!open) {
      open = true;
      yield { type: "content_block_start", index: 0, content_block: { type: "text", text: "", citations: null } };
    }
    yield { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: event.text } };
  }
  if (open) yield { type: "content_block_stop", index: 0 };
  const { input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens } = usageOf(
    run.promptTokens,
    run.completionTokens,
  );
  yield {
    type: "message_delta",
    delta: { ...stopOf(finish), stop_details: null, container: null },
    usage: {
      input_tokens,
      output_tokens,
      cache_creation_input_tokens,
      cache_read_input_tokens,
      output_tokens_details: null,
      server_tool_use: null,
    },
  };
  yield { type: "message_stop" };
}

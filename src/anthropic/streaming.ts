import { t } from "elysia";
import { Integer } from "../openai/common.ts";
import { ErrorObject } from "./errors.ts";
import { ContentBlock, Message, StopReason } from "./messages.ts";

// The events of a streamed message, named as the SDK's RawMessageStreamEvent members.

export const RawMessageStartEvent = t.Object({ type: t.Literal("message_start"), message: Message });

export const RawContentBlockStartEvent = t.Object({
  type: t.Literal("content_block_start"),
  index: Integer(),
  content_block: ContentBlock,
});

export const TextDelta = t.Object({ type: t.Literal("text_delta"), text: t.String() });
export const InputJSONDelta = t.Object({ type: t.Literal("input_json_delta"), partial_json: t.String() });

export const RawContentBlockDeltaEvent = t.Object({
  type: t.Literal("content_block_delta"),
  index: Integer(),
  delta: t.Union([TextDelta, InputJSONDelta]),
});

export const RawContentBlockStopEvent = t.Object({ type: t.Literal("content_block_stop"), index: Integer() });

export const MessageDeltaUsage = t.Object({
  input_tokens: Integer(),
  output_tokens: Integer(),
  cache_creation_input_tokens: Integer(),
  cache_read_input_tokens: Integer(),
  output_tokens_details: t.Null(),
  server_tool_use: t.Null(),
});

export const RawMessageDeltaEvent = t.Object({
  type: t.Literal("message_delta"),
  delta: t.Object({
    stop_reason: t.Union([StopReason, t.Null()]),
    stop_sequence: t.Union([t.String(), t.Null()]),
    stop_details: t.Null(),
    container: t.Null(),
  }),
  usage: MessageDeltaUsage,
});

export const RawMessageStopEvent = t.Object({ type: t.Literal("message_stop") });
export const PingEvent = t.Object({ type: t.Literal("ping") });
export const ErrorEvent = t.Object({ type: t.Literal("error"), error: ErrorObject });

export const RawMessageStreamEvent = t.Union([
  RawMessageStartEvent,
  RawContentBlockStartEvent,
  RawContentBlockDeltaEvent,
  RawContentBlockStopEvent,
  RawMessageDeltaEvent,
  RawMessageStopEvent,
  PingEvent,
]);
export type RawMessageStreamEvent = typeof RawMessageStreamEvent.static;

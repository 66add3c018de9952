import { t } from "elysia";
import { Integer } from "../openai/common.ts";

// Names follow the official `@anthropic-ai/sdk` (resources/messages/messages.d.ts); fields stay snake_case.

export const TextBlockParam = t.Object(
  {
    type: t.Literal("text"),
    text: t.String(),
    cache_control: t.Optional(t.Unknown()),
    citations: t.Optional(t.Union([t.Array(t.Unknown()), t.Null()])),
  },
  { additionalProperties: false },
);
export type TextBlockParam = typeof TextBlockParam.static;

/** Any content block; the route accepts `text`, `tool_use` and `tool_result` and refuses other types by name. */
export const ContentBlockParam = t.Object({ type: t.String() }, { additionalProperties: true });
export type ContentBlockParam = typeof ContentBlockParam.static;

export const MessageParam = t.Object(
  {
    role: t.Union([t.Literal("user"), t.Literal("assistant"), t.Literal("system")]),
    content: t.Union([t.String(), t.Array(ContentBlockParam)], { description: "a string or an array of content blocks" }),
  },
  { additionalProperties: false },
);
export type MessageParam = typeof MessageParam.static;

export const SystemParam = t.Union([t.String(), t.Array(TextBlockParam)], {
  description: "a string or an array of text blocks",
});

/** What both /v1/messages and /v1/messages/count_tokens read: the conversation and what shapes its prompt. */
const conversationFields = {
  model: t.String({ minLength: 1 }),
  messages: t.Array(MessageParam, { minItems: 1 }),
  system: t.Optional(SystemParam),
  tools: t.Optional(t.Array(t.Object({ name: t.String() }, { additionalProperties: true }))),
  tool_choice: t.Optional(t.Object({ type: t.String() }, { additionalProperties: true })),
  thinking: t.Optional(t.Object({ type: t.String() }, { additionalProperties: true })),
  output_config: t.Optional(t.Unknown()),
  cache_control: t.Optional(t.Unknown()),
  speed: t.Optional(t.Union([t.String(), t.Null()])),
  mcp_servers: t.Optional(t.Unknown()),
  context_management: t.Optional(t.Unknown()),
};

/**
 * Every field of the SDK's MessageCreateParams is known here, so that one gpt3dev cannot honour is refused by name
 * (routes/messages-request.ts) instead of being reported as unrecognised or silently dropped. `temperature`, `top_p`
 * and `top_k` are the Messages API's sampling fields, which SDK 1.x no longer types but clients still send.
 */
export const MessageCreateParams = t.Object(
  {
    ...conversationFields,
    max_tokens: Integer({ minimum: 1 }),
    stop_sequences: t.Optional(t.Array(t.String())),
    stream: t.Optional(t.Boolean()),
    temperature: t.Optional(t.Number({ minimum: 0, maximum: 1 })),
    top_p: t.Optional(t.Number({ minimum: 0, maximum: 1 })),
    top_k: t.Optional(Integer({ minimum: 0 })),
    metadata: t.Optional(t.Object({ user_id: t.Optional(t.Union([t.String(), t.Null()])) }, { additionalProperties: false })),
    service_tier: t.Optional(t.String()),
    container: t.Optional(t.Unknown()),
    diagnostics: t.Optional(t.Unknown()),
    inference_geo: t.Optional(t.Union([t.String(), t.Null()])),
    user_profile_id: t.Optional(t.String()),
    workspace_id: t.Optional(t.String()),
  },
  { additionalProperties: false },
);
export type MessageCreateParams = typeof MessageCreateParams.static;

export const MessageCountTokensParams = t.Object(conversationFields, { additionalProperties: false });
export type MessageCountTokensParams = typeof MessageCountTokensParams.static;

export const MessageTokensCount = t.Object({ input_tokens: Integer() });
export type MessageTokensCount = typeof MessageTokensCount.static;

export const TextBlock = t.Object({ type: t.Literal("text"), text: t.String(), citations: t.Null() });
export type TextBlock = typeof TextBlock.static;

export const ToolUseBlock = t.Object({
  type: t.Literal("tool_use"),
  id: t.String(),
  name: t.String(),
  input: t.Unknown(),
  caller: t.Object({ type: t.Literal("direct") }),
});
export type ToolUseBlock = typeof ToolUseBlock.static;

export const ContentBlock = t.Union([TextBlock, ToolUseBlock]);
export type ContentBlock = typeof ContentBlock.static;

export const StopReason = t.Union([
  t.Literal("end_turn"),
  t.Literal("max_tokens"),
  t.Literal("stop_sequence"),
  t.Literal("tool_use"),
]);
export type StopReason = typeof StopReason.static;

export const Usage = t.Object({
  input_tokens: Integer(),
  output_tokens: Integer(),
  cache_creation_input_tokens: Integer(),
  cache_read_input_tokens: Integer(),
  cache_creation: t.Null(),
  inference_geo: t.Null(),
  output_tokens_details: t.Null(),
  server_tool_use: t.Null(),
  service_tier: t.Literal("standard"),
  speed: t.Null(),
});
export type Usage = typeof Usage.static;

export const Message = t.Object({
  id: t.String(),
  type: t.Literal("message"),
  role: t.Literal("assistant"),
  content: t.Array(ContentBlock),
  model: t.String(),
  stop_reason: t.Union([StopReason, t.Null()]),
  stop_sequence: t.Union([t.String(), t.Null()]),
  stop_details: t.Null(),
  container: t.Null(),
  diagnostics: t.Null(),
  usage: Usage,
});
export type Message = typeof Message.static;

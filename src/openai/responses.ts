import { t } from "elysia";
import { Integer, Nullable } from "./common.ts";

// Names follow openai-node's resources/responses/responses.d.ts; fields stay snake_case.

/**
 * Any input item: a message (`role` + `content`, `type: "message"` optional), a `function_call` or a
 * `function_call_output`. The route checks each kind and refuses the others by name (`input[i].type`).
 */
export const ResponseInputItem = t.Object({ type: t.Optional(t.String()) }, { additionalProperties: true });
export type ResponseInputItem = typeof ResponseInputItem.static;

export const ResponseFormatTextConfig = t.Object({ type: t.String() }, { additionalProperties: true });

export const ResponseTextConfig = t.Object(
  { format: t.Optional(ResponseFormatTextConfig), verbosity: Nullable(t.String()) },
  { additionalProperties: false },
);

/**
 * Every field of the SDK's ResponseCreateParams is known here, so that one gpt3dev cannot honour is refused by name
 * (routes/responses-request.ts) instead of being reported as unrecognised or silently dropped.
 */
export const ResponseCreateParams = t.Object(
  {
    model: t.String({ minLength: 1 }),
    input: t.Union([t.String(), t.Array(ResponseInputItem, { minItems: 1 })], {
      description: "a string or a non-empty array of input items",
    }),
    instructions: Nullable(t.String()),
    max_output_tokens: Nullable(Integer({ minimum: 1 })),
    temperature: Nullable(t.Number({ minimum: 0, maximum: 2 })),
    top_p: Nullable(t.Number({ minimum: 0, maximum: 1 })),
    stream: Nullable(t.Boolean()),
    stream_options: Nullable(t.Object({ include_obfuscation: t.Optional(t.Boolean()) }, { additionalProperties: false })),
    text: t.Optional(ResponseTextConfig),
    tools: t.Optional(t.Array(t.Object({ type: t.String() }, { additionalProperties: true }))),
    tool_choice: t.Optional(t.Unknown()),
    parallel_tool_calls: Nullable(t.Boolean()),
    max_tool_calls: Nullable(Integer({ minimum: 1 })),
    store: Nullable(t.Boolean()),
    background: Nullable(t.Boolean()),
    previous_response_id: Nullable(t.String()),
    conversation: t.Optional(t.Unknown()),
    prompt: t.Optional(t.Unknown()),
    include: Nullable(t.Array(t.String())),
    reasoning: t.Optional(t.Unknown()),
    truncation: Nullable(t.String()),
    top_logprobs: Nullable(Integer({ minimum: 0, maximum: 20 })),
    metadata: Nullable(t.Record(t.String(), t.String())),
    user: t.Optional(t.String()),
    safety_identifier: Nullable(t.String()),
    prompt_cache_key: Nullable(t.String()),
    prompt_cache_retention: Nullable(t.String()),
    prompt_cache_options: t.Optional(t.Unknown()),
    service_tier: Nullable(t.String()),
    context_management: t.Optional(t.Unknown()),
    moderation: t.Optional(t.Unknown()),
    image: t.Optional(t.Unknown()),
    access_programs: t.Optional(t.Unknown()),
  },
  { additionalProperties: false },
);
export type ResponseCreateParams = typeof ResponseCreateParams.static;

export const ResponseOutputText = t.Object({
  type: t.Literal("output_text"),
  text: t.String(),
  annotations: t.Array(t.Unknown()),
  logprobs: t.Array(t.Unknown()),
});
export type ResponseOutputText = typeof ResponseOutputText.static;

const ItemStatus = t.Union([t.Literal("in_progress"), t.Literal("completed"), t.Literal("incomplete")]);

export const ResponseOutputMessage = t.Object({
  id: t.String(),
  type: t.Literal("message"),
  role: t.Literal("assistant"),
  status: ItemStatus,
  content: t.Array(ResponseOutputText),
});
export type ResponseOutputMessage = typeof ResponseOutputMessage.static;

export const ResponseFunctionToolCall = t.Object({
  id: t.String(),
  type: t.Literal("function_call"),
  status: ItemStatus,
  call_id: t.String(),
  name: t.String(),
  arguments: t.String(),
});
export type ResponseFunctionToolCall = typeof ResponseFunctionToolCall.static;

export const ResponseOutputItem = t.Union([ResponseOutputMessage, ResponseFunctionToolCall]);
export type ResponseOutputItem = typeof ResponseOutputItem.static;

export const ResponseUsage = t.Object({
  input_tokens: Integer(),
  input_tokens_details: t.Object({ cached_tokens: Integer(), cache_write_tokens: Integer() }),
  output_tokens: Integer(),
  output_tokens_details: t.Object({ reasoning_tokens: Integer() }),
  total_tokens: Integer(),
});
export type ResponseUsage = typeof ResponseUsage.static;

export const ResponseStatus = t.Union([
  t.Literal("completed"),
  t.Literal("failed"),
  t.Literal("in_progress"),
  t.Literal("incomplete"),
]);

export const Response = t.Object({
  id: t.String(),
  object: t.Literal("response"),
  created_at: Integer(),
  completed_at: t.Union([Integer(), t.Null()]),
  status: ResponseStatus,
  background: t.Literal(false),
  error: t.Null(),
  incomplete_details: t.Union([t.Object({ reason: t.Literal("max_output_tokens") }), t.Null()]),
  instructions: t.Union([t.String(), t.Null()]),
  max_output_tokens: t.Union([Integer(), t.Null()]),
  max_tool_calls: t.Union([Integer(), t.Null()]),
  model: t.String(),
  output: t.Array(ResponseOutputItem),
  parallel_tool_calls: t.Boolean(),
  previous_response_id: t.Null(),
  reasoning: t.Object({ effort: t.Null(), summary: t.Null() }),
  store: t.Literal(false),
  temperature: t.Number(),
  text: t.Object({ format: ResponseFormatTextConfig }),
  tool_choice: t.Unknown(),
  tools: t.Array(t.Unknown()),
  top_p: t.Number(),
  truncation: t.Literal("disabled"),
  usage: t.Union([ResponseUsage, t.Null()]),
  user: t.Union([t.String(), t.Null()]),
  metadata: t.Record(t.String(), t.String()),
});
export type Response = typeof Response.static;

import { t } from "elysia";
import { Integer, Nullable } from "./common.ts";
import { CompletionUsage, FinishReason, samplingFields } from "./completions.ts";


/** Any content part; the route accepts `text` parts and refuses other types by name. */
export const ChatCompletionContentPart = t.Object(
  { type: t.String(), text: t.Optional(t.String()) },
  { additionalProperties: true },
);

export const ChatCompletionMessageToolCall = t.Object(
  {
    id: t.String(),
    type: t.Literal("function"),
    function: t.Object({ name: t.String(), arguments: t.String() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type ChatCompletionMessageToolCall = typeof ChatCompletionMessageToolCall.static;

export const ChatCompletionFunctionTool = t.Object(
  {
    type: t.Literal("function"),
    function: t.Object(
      {
        name: t.String({ pattern: "^[a-zA-Z0-9_-]{1,64}$" }),
        description: t.Optional(t.String()),
        parameters: t.Optional(t.Record(t.String(), t.Unknown())),
        strict: Nullable(t.Boolean()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ChatCompletionFunctionTool = typeof ChatCompletionFunctionTool.static;

/** text, json_object, or json_schema ({name, description, schema, strict}); checked field by field in the route. */
export const ResponseFormat = t.Object(
  {
    type: t.String(),
    json_schema: t.Optional(
      t.Object(
        {
          name: t.String({ pattern: "^[a-zA-Z0-9_-]{1,64}$" }),
          description: t.Optional(t.String()),
          schema: t.Optional(t.Record(t.String(), t.Unknown())),
          strict: Nullable(t.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ResponseFormat = typeof ResponseFormat.static;

export const ChatCompletionMessageParam = t.Object(
  {
    role: t.Union([
      t.Literal("system"),
      t.Literal("developer"),
      t.Literal("user"),
      t.Literal("assistant"),
      t.Literal("tool"),
      t.Literal("function"),
    ]),
    content: t.Optional(t.Union([t.String(), t.Array(ChatCompletionContentPart), t.Null()])),
    name: t.Optional(t.String()),
    tool_call_id: t.Optional(t.String()),
    tool_calls: t.Optional(t.Array(ChatCompletionMessageToolCall)),
    function_call: t.Optional(t.Unknown()),
    refusal: Nullable(t.String()),
    audio: Nullable(t.Unknown()),
  },
  { additionalProperties: false },
);
export type ChatCompletionMessageParam = typeof ChatCompletionMessageParam.static;

/** vLLM's extensions (not OpenAI's): a Jinja chat template for this request, and variables passed into the template. */
export const chatTemplateFields = {
  chat_template: Nullable(t.String({ minLength: 1, description: "a Jinja chat template used instead of the model's (vLLM's extension)" })),
  chat_template_kwargs: Nullable(t.Record(t.String(), t.Unknown(), { description: "an object of variables the chat template can read" })),
};

/**
 * Every field of OpenAI's ChatCompletionCreateParams is known here, so that a field gpt3dev cannot honour is refused
 * by name (see routes/chat.ts) instead of being reported as unrecognised or silently dropped.
 */
export const ChatCompletionCreateParams = t.Object(
  {
    ...samplingFields,
    messages: t.Array(ChatCompletionMessageParam, { minItems: 1 }),
    max_completion_tokens: Nullable(Integer({ minimum: 1 })),
    logprobs: Nullable(t.Boolean()),
    top_logprobs: Nullable(Integer({ minimum: 0, maximum: 20 })),
    response_format: t.Optional(ResponseFormat),
    tools: t.Optional(t.Array(ChatCompletionFunctionTool)),
    tool_choice: t.Optional(t.Unknown()),
    parallel_tool_calls: t.Optional(t.Boolean()),
    functions: t.Optional(t.Array(t.Unknown())),
    function_call: t.Optional(t.Unknown()),
    modalities: Nullable(t.Array(t.String())),
    audio: Nullable(t.Unknown()),
    prediction: Nullable(t.Unknown()),
    reasoning_effort: Nullable(t.String()),
    verbosity: Nullable(t.String()),
    web_search_options: t.Optional(t.Unknown()),
    moderation: Nullable(t.Unknown()),
    service_tier: Nullable(t.String()),
    store: Nullable(t.Boolean()),
    prompt_cache_key: Nullable(t.String()),
    prompt_cache_options: t.Optional(t.Unknown()),
    prompt_cache_retention: Nullable(t.String()),
    safety_identifier: Nullable(t.String()),
    ...chatTemplateFields,
  },
  { additionalProperties: false },
);
export type ChatCompletionCreateParams = typeof ChatCompletionCreateParams.static;

export const ChatCompletionMessage = t.Object({
  role: t.Literal("assistant"),
  content: t.Union([t.String(), t.Null()]),
  refusal: t.Null(),
  tool_calls: t.Optional(t.Array(ChatCompletionMessageToolCall)),
});

export const ChatFinishReason = t.Union([FinishReason, t.Literal("tool_calls")]);
export type ChatFinishReason = typeof ChatFinishReason.static;

export const TopLogprob = t.Object({
  token: t.String(),
  logprob: t.Number(),
  bytes: t.Union([t.Array(Integer()), t.Null()]),
});

export const ChatCompletionTokenLogprob = t.Object({
  token: t.String(),
  logprob: t.Number(),
  bytes: t.Union([t.Array(Integer()), t.Null()]),
  top_logprobs: t.Array(TopLogprob),
});
export type ChatCompletionTokenLogprob = typeof ChatCompletionTokenLogprob.static;

export const ChatCompletionLogprobs = t.Object({
  content: t.Union([t.Array(ChatCompletionTokenLogprob), t.Null()]),
  refusal: t.Union([t.Array(ChatCompletionTokenLogprob), t.Null()]),
});
export type ChatCompletionLogprobs = typeof ChatCompletionLogprobs.static;

export const ChatCompletionChoice = t.Object({
  index: Integer(),
  message: ChatCompletionMessage,
  finish_reason: t.Union([ChatFinishReason, t.Null()]),
  logprobs: t.Union([ChatCompletionLogprobs, t.Null()]),
});
export type ChatCompletionChoice = typeof ChatCompletionChoice.static;

export const ChatCompletion = t.Object({
  id: t.String(),
  object: t.Literal("chat.completion"),
  created: Integer(),
  model: t.String(),
  system_fingerprint: t.String(),
  choices: t.Array(ChatCompletionChoice),
  usage: t.Optional(t.Union([CompletionUsage, t.Null()])),
});
export type ChatCompletion = typeof ChatCompletion.static;

/** A streamed piece of tool call `index`: id, type and name in its first piece, then arguments text. */
export const ChatCompletionChunkToolCall = t.Object({
  index: t.Integer(),
  id: t.Optional(t.String()),
  type: t.Optional(t.Literal("function")),
  function: t.Object({ name: t.Optional(t.String()), arguments: t.String() }),
});

export const ChatCompletionChunkDelta = t.Object({
  role: t.Optional(t.Literal("assistant")),
  content: t.Optional(t.Union([t.String(), t.Null()])),
  tool_calls: t.Optional(t.Array(ChatCompletionChunkToolCall)),
});

export const ChatCompletionChunk = t.Object({
  id: t.String(),
  object: t.Literal("chat.completion.chunk"),
  created: Integer(),
  model: t.String(),
  system_fingerprint: t.String(),
  choices: t.Array(
    t.Object({
      index: Integer(),
      delta: ChatCompletionChunkDelta,
      finish_reason: t.Union([ChatFinishReason, t.Null()]),
      logprobs: t.Union([ChatCompletionLogprobs, t.Null()]),
    }),
  ),
  usage: t.Optional(t.Union([CompletionUsage, t.Null()])),
});
export type ChatCompletionChunk = typeof ChatCompletionChunk.static;

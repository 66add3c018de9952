import { t } from "elysia";
import { Integer, Nullable } from "./common.ts";
import { CompletionUsage, FinishReason, samplingFields } from "./completions.ts";


/** Any content part; the route accepts `text` parts and refuses other types by name. */
export const ChatCompletionContentPart = t.Object(
  { type: t.String(), text: t.Optional(t.String()) },
  { additionalProperties: true },
);

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
    tool_calls: t.Optional(t.Array(t.Unknown())),
    function_call: t.Optional(t.Unknown()),
    refusal: Nullable(t.String()),
    audio: Nullable(t.Unknown()),
  },
  { additionalProperties: false },
);
export type ChatCompletionMessageParam = typeof ChatCompletionMessageParam.static;

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
    response_format: t.Optional(t.Object({ type: t.String() }, { additionalProperties: true })),
    tools: t.Optional(t.Array(t.Unknown())),
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
  },
  { additionalProperties: false },
);
export type ChatCompletionCreateParams = typeof ChatCompletionCreateParams.static;

export const ChatCompletionMessage = t.Object({
  role: t.Literal("assistant"),
  content: t.Union([t.String(), t.Null()]),
  refusal: t.Null(),
});

export const ChatCompletionChoice = t.Object({
  index: Integer(),
  message: ChatCompletionMessage,
  finish_reason: t.Union([FinishReason, t.Null()]),
  logprobs: t.Null(),
});
export type ChatCompletionChoice = typeof ChatCompletionChoice.static;

export const ChatCompletion = t.Object({
  id: t.String(),
  object: t.Literal("chat.completion"),
  created: Integer(),
  model: t.String(),
  choices: t.Array(ChatCompletionChoice),
  usage: t.Optional(t.Union([CompletionUsage, t.Null()])),
});
export type ChatCompletion = typeof ChatCompletion.static;

export const ChatCompletionChunkDelta = t.Object({
  role: t.Optional(t.Literal("assistant")),
  content: t.Optional(t.String()),
});

export const ChatCompletionChunk = t.Object({
  id: t.String(),
  object: t.Literal("chat.completion.chunk"),
  created: Integer(),
  model: t.String(),
  choices: t.Array(
    t.Object({
      index: Integer(),
      delta: ChatCompletionChunkDelta,
      finish_reason: t.Union([FinishReason, t.Null()]),
      logprobs: t.Null(),
    }),
  ),
  usage: t.Optional(t.Union([CompletionUsage, t.Null()])),
});
export type ChatCompletionChunk = typeof ChatCompletionChunk.static;

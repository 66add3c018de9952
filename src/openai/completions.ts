import { t } from "elysia";
import { Integer, Nullable } from "./common.ts";

const TokenIds = t.Array(Integer({ minimum: 0 }), { minItems: 1 });

// How many stop sequences a request may give is a server limit (--max-stop-sequences, 4 as OpenAI by default).
export const StopParam = t.Union([t.String(), t.Array(t.String()), t.Null()]);

export const ChatCompletionStreamOptions = t.Object(
  {
    include_usage: t.Optional(t.Boolean()),
    include_obfuscation: t.Optional(t.Boolean()),
  },
  { additionalProperties: false },
);

/** Fields every generation request shares (completions and, later, chat completions). */
export const samplingFields = {
  model: t.String({ minLength: 1 }),
  max_tokens: Nullable(Integer({ minimum: 1 })),
  temperature: Nullable(t.Number({ minimum: 0, maximum: 2 })),
  top_p: Nullable(t.Number({ minimum: 0, maximum: 1 })),
  n: Nullable(Integer({ minimum: 1, maximum: 128 })),
  stop: t.Optional(StopParam),
  stream: Nullable(t.Boolean()),
  stream_options: Nullable(ChatCompletionStreamOptions),
  seed: Nullable(Integer()),
  user: t.Optional(t.String()),
  frequency_penalty: Nullable(t.Number({ minimum: -2, maximum: 2 })),
  presence_penalty: Nullable(t.Number({ minimum: -2, maximum: 2 })),
  logit_bias: Nullable(t.Record(t.String(), t.Number({ minimum: -100, maximum: 100 }))),
  metadata: Nullable(t.Record(t.String(), t.String())),
  // Extensions named as vLLM and llama.cpp's servers name them.
  top_k: Nullable(Integer({ minimum: -1 })),
  min_p: Nullable(t.Number({ minimum: 0, maximum: 1 })),
  repetition_penalty: Nullable(t.Number({ exclusiveMinimum: 0, maximum: 2 })),
};

export const CompletionCreateParams = t.Object(
  {
    ...samplingFields,
    // 0 with `echo` scores the prompt without generating (lm-eval's loglikelihood requests).
    max_tokens: Nullable(Integer({ minimum: 0 })),
    prompt: t.Union([t.String(), t.Array(t.String(), { minItems: 1 }), TokenIds, t.Array(TokenIds, { minItems: 1 })], {
      description: "a string, an array of strings, an array of token ids, or an array of token-id arrays",
    }),
    best_of: Nullable(Integer({ minimum: 1 })),
    echo: Nullable(t.Boolean()),
    logprobs: Nullable(Integer({ minimum: 0, maximum: 5 })),
    suffix: Nullable(t.String()),
  },
  { additionalProperties: false },
);
export type CompletionCreateParams = typeof CompletionCreateParams.static;

export const CompletionUsage = t.Object({
  prompt_tokens: Integer(),
  completion_tokens: Integer(),
  total_tokens: Integer(),
  /** Prompt tokens whose keys and values came from the prefix cache instead of a prefill. */
  prompt_tokens_details: t.Optional(t.Object({ cached_tokens: Integer() })),
});
export type CompletionUsage = typeof CompletionUsage.static;

export const FinishReason = t.Union([t.Literal("stop"), t.Literal("length")]);
export type FinishReason = typeof FinishReason.static;

/** Per token of the choice's text: OpenAI's legacy logprobs (`top_logprobs` holds the chosen token too). */
export const CompletionLogprobs = t.Object({
  tokens: t.Array(t.String()),
  token_logprobs: t.Array(t.Union([t.Number(), t.Null()])),
  top_logprobs: t.Array(t.Union([t.Record(t.String(), t.Number()), t.Null()])),
  text_offset: t.Array(Integer()),
});
export type CompletionLogprobs = typeof CompletionLogprobs.static;

export const CompletionChoice = t.Object({
  text: t.String(),
  index: Integer(),
  logprobs: t.Union([CompletionLogprobs, t.Null()]),
  finish_reason: t.Union([FinishReason, t.Null()]),
});
export type CompletionChoice = typeof CompletionChoice.static;

export const Completion = t.Object({
  id: t.String(),
  object: t.Literal("text_completion"),
  created: Integer(),
  model: t.String(),
  system_fingerprint: t.String(),
  choices: t.Array(CompletionChoice),
  usage: t.Optional(t.Union([CompletionUsage, t.Null()])),
});
export type Completion = typeof Completion.static;

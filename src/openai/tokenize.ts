import { t } from "elysia";
import { Integer } from "./common.ts";
import { ChatCompletionMessageParam, chatTemplateFields } from "./chat.ts";

/** Not part of OpenAI's API: the shape vLLM's server gives these helper routes, which clients already speak. */
export const TokenizeParams = t.Object(
  {
    model: t.String({ minLength: 1 }),
    prompt: t.Optional(t.String()),
    messages: t.Optional(t.Array(ChatCompletionMessageParam, { minItems: 1 })),
    add_special_tokens: t.Optional(t.Boolean()),
    add_generation_prompt: t.Optional(t.Literal(true)),
    ...chatTemplateFields,
  },
  { additionalProperties: false },
);
export type TokenizeParams = typeof TokenizeParams.static;

export const TokenizeResponse = t.Object({
  count: Integer(),
  max_model_len: Integer(),
  tokens: t.Array(Integer()),
});
export type TokenizeResponse = typeof TokenizeResponse.static;

export const DetokenizeParams = t.Object(
  {
    model: t.String({ minLength: 1 }),
    tokens: t.Array(Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type DetokenizeParams = typeof DetokenizeParams.static;

export const DetokenizeResponse = t.Object({ prompt: t.String() });
export type DetokenizeResponse = typeof DetokenizeResponse.static;

import { t } from "elysia";
import { Integer, Nullable } from "./common.ts";

// OpenAI caps every array in `input` at 2048 entries.
const MAX_INPUTS = 2048;
const TokenIds = t.Array(Integer({ minimum: 0 }), { minItems: 1 });

export const EmbeddingCreateParams = t.Object(
  {
    model: t.String({ minLength: 1 }),
    input: t.Union(
      [
        t.String({ minLength: 1 }),
        t.Array(t.String({ minLength: 1 }), { minItems: 1, maxItems: MAX_INPUTS }),
        TokenIds,
        t.Array(TokenIds, { minItems: 1, maxItems: MAX_INPUTS }),
      ],
      {
        description:
          "a non-empty string, an array of up to 2048 non-empty strings, an array of token ids, " +
          "or an array of up to 2048 non-empty token-id arrays",
      },
    ),
    encoding_format: Nullable(t.Union([t.Literal("float"), t.Literal("base64")], { description: "'float' or 'base64'" })),
    dimensions: t.Optional(t.Union([Integer({ minimum: 1 }), t.Null()], { description: "a positive integer" })),
    user: t.Optional(t.String()),
  },
  { additionalProperties: false },
);
export type EmbeddingCreateParams = typeof EmbeddingCreateParams.static;

/** `embedding` is a list of floats, or with `encoding_format: "base64"` the little-endian float32 bytes in base64. */
export const Embedding = t.Object({
  object: t.Literal("embedding"),
  index: Integer(),
  embedding: t.Union([t.Array(t.Number()), t.String()]),
});
export type Embedding = typeof Embedding.static;

export const CreateEmbeddingResponse = t.Object({
  object: t.Literal("list"),
  data: t.Array(Embedding),
  model: t.String(),
  usage: t.Object({ prompt_tokens: Integer(), total_tokens: Integer() }),
});
export type CreateEmbeddingResponse = typeof CreateEmbeddingResponse.static;

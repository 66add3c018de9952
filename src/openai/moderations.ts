import { t, type TSchema } from "elysia";

/** OpenAI's moderation categories, in its order (node_modules/openai/resources/moderations.d.ts). */
export const MODERATION_CATEGORY_NAMES = [
  "harassment",
  "harassment/threatening",
  "hate",
  "hate/threatening",
  "illicit",
  "illicit/violent",
  "self-harm",
  "self-harm/instructions",
  "self-harm/intent",
  "sexual",
  "sexual/minors",
  "violence",
  "violence/graphic",
] as const;
export type ModerationCategoryName = (typeof MODERATION_CATEGORY_NAMES)[number];

function perCategory<T extends TSchema>(value: T) {
  return t.Object(Object.fromEntries(MODERATION_CATEGORY_NAMES.map((name) => [name, value])) as Record<ModerationCategoryName, T>);
}

/** A multi-modal input item: `text` items are read, `image_url` items are refused by the route. */
export const ModerationMultiModalInput = t.Object(
  { type: t.String(), text: t.Optional(t.String()), image_url: t.Optional(t.Unknown()) },
  { additionalProperties: false },
);
export type ModerationMultiModalInput = typeof ModerationMultiModalInput.static;

export const ModerationCreateParams = t.Object(
  {
    input: t.Union([t.String(), t.Array(t.String(), { minItems: 1 }), t.Array(ModerationMultiModalInput, { minItems: 1 })], {
      description: "a string, an array of strings, or an array of multi-modal input items ({type: 'text', text})",
    }),
    model: t.Optional(t.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type ModerationCreateParams = typeof ModerationCreateParams.static;

export const Moderation = t.Object({
  flagged: t.Boolean(),
  categories: perCategory(t.Boolean()),
  category_scores: perCategory(t.Number()),
  /** Which inputs each score was computed from: ["text"] for the categories the model covers, [] for the others. */
  category_applied_input_types: perCategory(t.Array(t.Literal("text"))),
});
export type Moderation = typeof Moderation.static;

export const ModerationCreateResponse = t.Object({
  id: t.String(),
  model: t.String(),
  results: t.Array(Moderation),
});
export type ModerationCreateResponse = typeof ModerationCreateResponse.static;

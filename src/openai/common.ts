import { t, type TSchema } from "elysia";

/** OpenAI's optional-and-nullable field (`x?: T | null`). */
export const Nullable = <T extends TSchema>(schema: T) => t.Optional(t.Union([schema, t.Null()]));

import { Type, type IntegerOptions } from "@sinclair/typebox";
import { t, type TSchema } from "elysia";

/** OpenAI's optional-and-nullable field (`x?: T | null`). */
export const Nullable = <T extends TSchema>(schema: T) => t.Optional(t.Union([schema, t.Null()]));

/**
 * An integer field, strictly: a JSON number with no fraction. Elysia's `t.Integer` also takes numeric strings
 * ("16", "0x3"), which OpenAI refuses; every integer field of a request uses this one instead.
 */
export const Integer = (options?: IntegerOptions) => Type.Integer(options);

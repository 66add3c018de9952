import { t } from "elysia";

/** OpenAI's error body: `{"error": {message, type, param, code}}`. */
export const ErrorObject = t.Object({
  message: t.String(),
  type: t.String(),
  param: t.Union([t.String(), t.Null()]),
  code: t.Union([t.String(), t.Null()]),
});
export type ErrorObject = typeof ErrorObject.static;

export const ErrorResponse = t.Object({ error: ErrorObject });
export type ErrorResponse = typeof ErrorResponse.static;

import { t } from "elysia";

/** Anthropic's error categories (the `@anthropic-ai/sdk` ErrorType, plus 413's `request_too_large`). */
export const ErrorType = t.Union([
  t.Literal("invalid_request_error"),
  t.Literal("authentication_error"),
  t.Literal("permission_error"),
  t.Literal("not_found_error"),
  t.Literal("request_too_large"),
  t.Literal("rate_limit_error"),
  t.Literal("timeout_error"),
  t.Literal("api_error"),
  t.Literal("overloaded_error"),
]);
export type ErrorType = typeof ErrorType.static;

export const ErrorObject = t.Object({ type: ErrorType, message: t.String() });
export type ErrorObject = typeof ErrorObject.static;

/** Anthropic's error body: `{"type": "error", "error": {type, message}, "request_id"}`. */
export const ErrorResponse = t.Object({
  type: t.Literal("error"),
  error: ErrorObject,
  request_id: t.Union([t.String(), t.Null()]),
});
export type ErrorResponse = typeof ErrorResponse.static;

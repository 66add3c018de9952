import type { ErrorResponse, ErrorType } from "./anthropic/errors.ts";
import { toOpenAIError } from "./errors.ts";

/** An error as Anthropic's Messages API reports it. Everything /v1/messages answers as an error passes through here. */
export class AnthropicError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "AnthropicError";
  }

  toBody(): ErrorResponse {
    return { type: "error", error: { type: this.type, message: this.message }, request_id: null };
  }
}

/** Anthropic's category for each status it uses (https://docs.anthropic.com/en/api/errors). */
const TYPE_BY_STATUS: Readonly<Record<number, ErrorType>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  504: "timeout_error",
  529: "overloaded_error",
};

/**
 * Maps any thrown value to Anthropic's envelope. What went wrong, which field, the status and headers (Retry-After)
 * are decided once for every protocol by `toOpenAIError`; only the envelope and the category names differ here.
 */
export function toAnthropicError(error: unknown, code?: string | number): AnthropicError {
  if (error instanceof AnthropicError) return error;
  const { status, message, param, headers } = toOpenAIError(error, code);
  const type = TYPE_BY_STATUS[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
  // Anthropic's envelope has no `param`: the field leads the message, as Anthropic writes it ("max_tokens: …").
  const named = param === null || message.includes(param) ? message : `${param}: ${message}`;
  return new AnthropicError(status, type, named, headers);
}

/** The routes whose clients expect Anthropic's envelope. */
export function speaksAnthropic(pathname: string): boolean {
  return pathname === "/v1/messages" || pathname.startsWith("/v1/messages/");
}

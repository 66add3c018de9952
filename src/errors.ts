import { Kind, type TSchema } from "@sinclair/typebox";
import { ValueErrorType } from "@sinclair/typebox/errors";
import { ValidationError } from "elysia";
import {
  ChatTemplateMissingError,
  ContextLengthError,
  EngineCrashError,
  GenerationError,
  InvalidInputError,
  ModelKindError,
  ModelLoadError,
  ModelNotFoundError,
  ModelUnsupportedError,
  OutputConstraintError,
  QueueFullError,
  TemplateRenderError,
  UnknownVoiceError,
  UnsupportedAudioError,
  AUDIO_FORMATS_ACCEPTED,
} from "./engine/errors.ts";
import type { ErrorResponse } from "./openai/errors.ts";

export type ErrorType =
  | "invalid_request_error"
  | "not_found_error"
  | "authentication_error"
  | "rate_limit_error"
  /** What OpenAI sends with 429 rate_limit_exceeded. */
  | "requests"
  | "server_error";

/** An error as OpenAI reports it. Everything a client sees as an error passes through `toOpenAIError`. */
export class OpenAIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType = "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Response headers that go with the error (e.g. Retry-After). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "OpenAIError";
  }

  toBody(): ErrorResponse {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function invalidRequest(message: string, param: string | null = null, code: string | null = null): OpenAIError {
  return new OpenAIError(400, message, "invalid_request_error", param, code);
}

export function unsupportedParameter(param: string, detail = ""): OpenAIError {
  const suffix = detail ? ` ${detail}` : "";
  return invalidRequest(`'${param}' is not supported by gpt3dev yet.${suffix}`, param, "unsupported_parameter");
}

/** Where an error is answered: which route was used, and how it names the engine's arguments. */
export interface ErrorContext {
  /** The path of the route, e.g. `/tokenize`. */
  route?: string;
  /** The request field an engine argument came from (`prompts[1]` is `prompt[1]` when the prompt is a list). */
  paramOf?: (argument: string) => string;
}

/** The OpenAI field of each engine argument when the route gives no better name: `inputs[2]` is `input[2]`. */
function defaultParam(argument: string): string {
  return argument
    .replace(/^prompts\b/, "prompt")
    .replace(/^inputs\b/, "input")
    .replace(/^logitBias$/, "logit_bias")
    .replace(/^templateVariables\b/, "chat_template_kwargs")
    .replace(/^template$/, "chat_template");
}

/** Runs a route's engine call; its errors are answered in the route's own terms (field names, route). */
export async function inRoute<T>(work: Promise<T>, context: ErrorContext): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw toOpenAIError(error, undefined, context);
  }
}

/** Maps any thrown value (Elysia, engine, or unexpected) to OpenAI's envelope and status. */
export function toOpenAIError(error: unknown, code?: string | number, context: ErrorContext = {}): OpenAIError {
  const paramOf = context.paramOf ?? defaultParam;
  if (error instanceof OpenAIError) return error;
  // Elysia wraps whatever a body parser throws; a parser's own OpenAIError (e.g. 413) keeps its status.
  if (code === "PARSE" && error instanceof Error && error.cause instanceof OpenAIError) return error.cause;
  if (error instanceof ValidationError) return fromValidation(error);
  if (error instanceof QueueFullError) {
    return new OpenAIError(
      429,
      `The server is at capacity: ${error.queued} requests are already waiting for this model. ` +
        `Please retry after ${error.retryAfterSeconds} s.`,
      "requests",
      null,
      "rate_limit_exceeded",
      { "retry-after": String(error.retryAfterSeconds) },
    );
  }
  if (error instanceof ModelNotFoundError) {
    return new OpenAIError(
      404,
      `The model '${error.modelId}' does not exist or you do not have access to it.`,
      "invalid_request_error",
      "model",
      "model_not_found",
    );
  }
  if (error instanceof ModelKindError) {
    const routes = {
      embeddings: "/v1/embeddings",
      moderation: "/v1/moderations",
      "text-generation": "/v1/completions and /v1/chat/completions",
      "speech-recognition": "/v1/audio/transcriptions and /v1/audio/translations",
      "text-to-speech": "/v1/audio/speech",
    };
    const route = context.route ?? routes[error.wanted];
    const kind = (k: string) => (k === "embeddings" ? "an embeddings" : `a ${k}`);
    return invalidRequest(
      `The model '${error.modelId}' is ${kind(error.actual)} model and cannot be used with ${route}: ` +
        `choose ${kind(error.wanted)} model (GET /v1/models lists the models).`,
      "model",
      "model_not_supported",
    );
  }
  if (error instanceof ModelUnsupportedError) {
    return invalidRequest(`The model '${error.modelId}' cannot be served: ${error.reason}.`, "model", "model_not_supported");
  }
  if (error instanceof ModelLoadError) {
    return new OpenAIError(
      500,
      `The model '${error.modelId}' could not be loaded: ${error.reason}`,
      "server_error",
      "model",
      "model_load_failed",
    );
  }
  if (error instanceof GenerationError) {
    return new OpenAIError(
      500,
      `The model '${error.modelId}' failed while generating this response: ${error.reason}. ` +
        "Only this request was stopped; you can retry it. If it fails again the same way, the model's files or " +
        "its numeric precision may be at fault: tell the server's operator.",
      "server_error",
      null,
      "generation_failed",
    );
  }
  if (error instanceof EngineCrashError) {
    return new OpenAIError(
      503,
      `The inference engine stopped unexpectedly while serving this request (${error.reason}) and was restarted. ` +
        "Retry the request; models load again on first use.",
      "server_error",
      null,
      "engine_restarted",
    );
  }
  if (error instanceof ContextLengthError) return contextLengthError(error, paramOf(error.argument));
  if (error instanceof ChatTemplateMissingError) {
    const used = context.route && context.route !== "/v1/chat/completions" ? `'messages' on ${context.route}` : "/v1/chat/completions";
    return invalidRequest(
      `The model '${error.modelId}' has no chat template, so it cannot serve ${used}. ` +
        "Use /v1/completions with a plain prompt, or give the model a template: add a 'chat_template' " +
        "(Jinja, as in Hugging Face's tokenizer_config.json) to its entry in the model registry (--registry).",
      "model",
      "chat_template_missing",
    );
  }
  if (error instanceof TemplateRenderError) {
    const param = paramOf(error.argument);
    const whose = error.argument === "template" ? `The chat template in '${param}'` : "The model's chat template";
    return invalidRequest(`${whose} could not be rendered: ${error.reason}`, param, "invalid_chat_template");
  }
  if (error instanceof InvalidInputError) {
    const param = paramOf(error.argument);
    return invalidRequest(`Invalid value for '${param}': ${error.message}.`, param);
  }
  if (error instanceof UnsupportedAudioError) {
    return invalidRequest(`Invalid file: ${error.reason}. Accepted audio formats: ${AUDIO_FORMATS_ACCEPTED}.`, "file", "invalid_value");
  }
  if (error instanceof UnknownVoiceError) {
    return invalidRequest(`Invalid value for 'voice': this model has no voice '${error.voice}'. Its voices: ${error.available}.`, "voice", "invalid_value");
  }
  if (error instanceof OutputConstraintError) {
    return unenforceableSchema(error, error.toolIndex === undefined ? "response_format" : `tools[${error.toolIndex}].function.parameters`);
  }
  if (code === "PARSE") {
    return invalidRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library " +
        "correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    );
  }
  if (code === "NOT_FOUND") return new OpenAIError(404, "Not found.", "invalid_request_error");
  return new OpenAIError(500, "The server had an error while processing your request.", "server_error");
}

/** A schema constrained decoding cannot enforce; `param` is where the request gave it (chat's names by default). */
export function unenforceableSchema(error: OutputConstraintError, param: string): OpenAIError {
  return invalidRequest(
    `Invalid schema for '${param}': the keyword '${error.keyword}' cannot be enforced by gpt3dev's constrained decoding. ${error.message}.`,
    param,
    "unsupported_schema",
  );
}

function fromValidation(error: ValidationError): OpenAIError {
  const first = error.valueError;
  const body = error.value;
  if (!first || first.path === "" || typeof body !== "object" || body === null || Array.isArray(body)) {
    return invalidRequest("The request body must be a JSON object.");
  }
  const param = pathToParam(first.path);
  if (first.type === ValueErrorType.ObjectRequiredProperty || first.value === undefined) {
    return invalidRequest(`Missing required parameter: '${param}'.`, param, "missing_required_parameter");
  }
  if (first.type === ValueErrorType.ArrayMinItems && Array.isArray(first.value)) {
    const min = (first.schema as { minItems?: number }).minItems ?? 1;
    return invalidRequest(
      `Invalid value for '${param}': expected at least ${min} item${min === 1 ? "" : "s"}, got ${first.value.length}.`,
      param,
      "invalid_value",
    );
  }
  if (first.type === ValueErrorType.ObjectAdditionalProperties) {
    return invalidRequest(`Unrecognized request argument supplied: ${param}`, param, "unknown_parameter");
  }
  const got = JSON.stringify(first.value)?.slice(0, 60) ?? String(first.value);
  return invalidRequest(
    `Invalid value for '${param}': expected ${describeSchema(first.schema)}, got ${got}.`,
    param,
    "invalid_value",
  );
}

/** A short English description of what a TypeBox schema accepts, for error messages. */
export function describeSchema(schema: TSchema): string {
  if (typeof schema.description === "string") return schema.description;
  const kind = schema[Kind] as string;
  const range = (noun: string) => {
    const { minimum: min, maximum: max } = schema as { minimum?: number; maximum?: number };
    if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
    if (min !== undefined) return `${noun} >= ${min}`;
    if (max !== undefined) return `${noun} <= ${max}`;
    return noun;
  };
  switch (kind) {
    case "Union":
      return (schema.anyOf as TSchema[]).map(describeSchema).join(" or ");
    case "Null":
      return "null";
    case "Integer":
      return range("an integer");
    case "Number":
      return range("a number");
    case "String":
      return "a string";
    case "Boolean":
      return "a boolean";
    case "Literal":
      return JSON.stringify(schema.const);
    case "Array": {
      const max = schema.maxItems === undefined ? "" : ` (at most ${schema.maxItems})`;
      return `an array${max} of items each ${describeSchema(schema.items as TSchema)}`;
    }
    default:
      return "an object";
  }
}

/** TypeBox paths look like `/stop/2`; OpenAI names fields like `stop[2]`. */
function pathToParam(path: string): string | null {
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0) return null;
  return parts.reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), "");
}

/** OpenAI's own wording: one form for chat messages, the older one for prompts and embeddings input. */
function contextLengthError(error: ContextLengthError, input: string): OpenAIError {
  const { limit, promptTokens, completionTokens } = error;
  const requested = promptTokens + completionTokens;
  const message =
    input === "messages"
      ? `This model's maximum context length is ${limit} tokens. However, you requested ${requested} tokens ` +
        `(${promptTokens} in the messages, ${completionTokens} in the completion). ` +
        "Please reduce the length of the messages or completion."
      : `This model's maximum context length is ${limit} tokens, however you requested ${requested} tokens ` +
        `(${promptTokens} in your prompt; ${completionTokens} for the completion). ` +
        "Please reduce your prompt; or completion length.";
  return invalidRequest(message, input, "context_length_exceeded");
}

import { t, type TSchema } from "elysia";
import { Message, MessageTokensCount } from "../anthropic/messages.ts";
import { RawMessageStreamEvent } from "../anthropic/streaming.ts";
import { ChatCompletion, ChatCompletionChunk } from "../openai/chat.ts";
import { Completion } from "../openai/completions.ts";
import { Transcription, TranscriptionVerbose } from "../openai/audio.ts";
import { CreateEmbeddingResponse } from "../openai/embeddings.ts";
import { Model, ModelsPage } from "../openai/models.ts";
import { ModerationCreateResponse } from "../openai/moderations.ts";
import { ResponseStreamEvent } from "../openai/response-stream-events.ts";
import { Response } from "../openai/responses.ts";
import { DetokenizeResponse, TokenizeResponse } from "../openai/tokenize.ts";

/**
 * What the TypeBox request schemas cannot say about a route: its summary, its answer and, for generation, the chunk
 * of its SSE stream. A route missing here is still documented (method, path, parameters, request body) from its
 * schemas, with a generic answer.
 */
export interface RouteDoc {
  summary: string;
  tag: string;
  /** The JSON answer (200). */
  response?: TSchema;
  /** With `stream: true`: each `data:` event of the text/event-stream answer. */
  chunk?: TSchema;
  /** The answer is plain text of this media type (or of one of these) rather than JSON. */
  text?: string | string[];
  /** The answer is binary data of one of these media types (audio). */
  binary?: string[];
  /** The request body is a multipart/form-data form (an upload), not JSON. */
  form?: boolean;
  /** Errors come in OpenAI's envelope (src/errors.ts); false for routes that never fail that way. */
  openaiErrors?: boolean;
  /** Errors come in Anthropic's envelope instead (src/anthropic-errors.ts). */
  anthropicErrors?: boolean;
  /** Stream events are named after their type (`event: <type>`) and the stream has no `[DONE]`. */
  typedEvents?: boolean;
}

const Health = t.Object({ status: t.Literal("ok") });

export const ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  "GET /v1/models": { summary: "List the models served", tag: "Models", response: ModelsPage, openaiErrors: true },
  "GET /v1/models/:id": { summary: "Describe one model", tag: "Models", response: Model, openaiErrors: true },
  "POST /v1/models/:id/load": { summary: "Load a model now (gpt3dev's extension)", tag: "Models", response: Model, openaiErrors: true },
  "POST /v1/models/:id/unload": {
    summary: "Unload a model once its requests in flight end (gpt3dev's extension)",
    tag: "Models",
    response: Model,
    openaiErrors: true,
  },
  "POST /v1/completions": {
    summary: "Complete a prompt (OpenAI text completions)",
    tag: "Generation",
    response: Completion,
    chunk: Completion,
    openaiErrors: true,
  },
  "POST /v1/chat/completions": {
    summary: "Answer a conversation (OpenAI chat completions)",
    tag: "Generation",
    response: ChatCompletion,
    chunk: ChatCompletionChunk,
    openaiErrors: true,
  },
  "POST /v1/responses": {
    summary: "Answer input items (OpenAI Responses, stateless)",
    tag: "Generation",
    response: Response,
    chunk: ResponseStreamEvent,
    typedEvents: true,
    openaiErrors: true,
  },
  "POST /v1/messages": {
    summary: "Answer a conversation (Anthropic Messages)",
    tag: "Generation",
    response: Message,
    chunk: RawMessageStreamEvent,
    typedEvents: true,
    anthropicErrors: true,
  },
  "POST /v1/messages/count_tokens": {
    summary: "Count the input tokens of a conversation (Anthropic Messages)",
    tag: "Tokens",
    response: MessageTokensCount,
    anthropicErrors: true,
  },
  "POST /v1/embeddings": {
    summary: "Embed texts or token ids",
    tag: "Embeddings",
    response: CreateEmbeddingResponse,
    openaiErrors: true,
  },
  "POST /v1/moderations": {
    summary: "Classify texts against OpenAI's moderation categories",
    tag: "Moderation",
    response: ModerationCreateResponse,
    openaiErrors: true,
  },
  "POST /v1/audio/transcriptions": {
    summary: "Transcribe audio (Whisper models)",
    tag: "Audio",
    response: t.Union([Transcription, TranscriptionVerbose]),
    text: ["text/plain", "application/x-subrip", "text/vtt"],
    form: true,
    openaiErrors: true,
  },
  "POST /v1/audio/translations": {
    summary: "Translate audio into English text (Whisper models)",
    tag: "Audio",
    response: t.Union([Transcription, TranscriptionVerbose]),
    text: ["text/plain", "application/x-subrip", "text/vtt"],
    form: true,
    openaiErrors: true,
  },
  "POST /v1/audio/speech": { summary: "Speak text (text-to-speech models)", tag: "Audio", binary: ["audio/wav", "audio/pcm"], openaiErrors: true },
  "POST /tokenize": { summary: "Tokenize a prompt or conversation (vLLM's shape)", tag: "Tokens", response: TokenizeResponse, openaiErrors: true },
  "POST /detokenize": { summary: "Turn token ids back into text (vLLM's shape)", tag: "Tokens", response: DetokenizeResponse, openaiErrors: true },
  "GET /healthz": { summary: "Liveness; never touches models", tag: "Operations", response: Health },
  "GET /health": { summary: "Liveness; never touches models", tag: "Operations", response: Health },
  "GET /metrics": { summary: "Prometheus metrics (text format 0.0.4)", tag: "Operations", text: "text/plain; version=0.0.4", openaiErrors: true },
  "GET /openapi.json": { summary: "This document", tag: "Operations", openaiErrors: true },
};

/** Statuses the OpenAI-compatible routes may answer with an error envelope, and when. */
export const ERROR_STATUSES: Readonly<Record<string, string>> = {
  "400": "Invalid request: the envelope's `param` names the field, `code` says why (e.g. `unsupported_parameter`, `limit_exceeded`)",
  "401": "Missing or wrong API key (`code: invalid_api_key`), when the server has keys",
  "404": "Unknown model (`code: model_not_found`) or path",
  "413": "Body over `--max-body-bytes`, or an audio upload over `--max-audio-bytes` (`code: request_too_large`)",
  "429": "The model's queue is full (`code: rate_limit_exceeded`); see the Retry-After header",
  "500": "The model failed to load or run (the message names the model and the cause)",
};

/** Statuses the Anthropic Messages routes may answer with Anthropic's error envelope. */
export const ANTHROPIC_ERROR_STATUSES: Readonly<Record<string, string>> = {
  "400": "`invalid_request_error`: the message starts with or quotes the field at fault",
  "401": "`authentication_error`: missing or wrong key (`x-api-key` or `Authorization: Bearer`), when the server has keys",
  "404": "`not_found_error`: unknown model or path",
  "413": "`request_too_large`: body over `--max-body-bytes`",
  "429": "`rate_limit_error`: the model's queue is full; see the Retry-After header",
  "500": "`api_error`: the model failed to load or run",
};

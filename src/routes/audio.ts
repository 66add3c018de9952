import { Elysia } from "elysia";
import type { Engine } from "../engine/engine.ts";
import type { TranscriptionRequest } from "../engine/transcriber.ts";
import { inRoute, invalidRequest, unsupportedParameter } from "../errors.ts";
import { SpeechCreateParams, TranscriptionCreateParams, TranslationCreateParams, type AudioResponseFormat } from "../openai/audio.ts";
import { speechResponse } from "./audio-speech.ts";
import { formatTranscript } from "./audio-transcript.ts";

/** The OpenAI field of each engine argument of a transcription. */
const paramOf = (argument: string) => (argument === "words" ? "timestamp_granularities[]" : argument);

async function transcribe(engine: Engine, route: string, fields: TranslationCreateParams, extra: Partial<TranscriptionRequest> & { task: "transcribe" | "translate" }) {
  const format: AudioResponseFormat = fields.response_format ?? "json";
  const temperature = fields.temperature === undefined ? 0 : Number(fields.temperature);
  if (!(temperature >= 0 && temperature <= 1)) {
    throw invalidRequest(`Invalid value for 'temperature': expected a number from 0 to 1, got ${JSON.stringify(fields.temperature)}.`, "temperature", "invalid_value");
  }
  const request: TranscriptionRequest = {
    model: fields.model,
    audio: new Uint8Array(await fields.file.arrayBuffer()),
    prompt: fields.prompt,
    temperature,
    // Segments are what verbose_json, srt and vtt are made of.
    timestamps: format === "verbose_json" || format === "srt" || format === "vtt",
    ...extra,
  };
  const result = await inRoute(engine.transcribe(request), { route, paramOf });
  return formatTranscript(result, format, request.task, temperature);
}

/** Whether words are asked for; granularities other than the default need verbose_json, as OpenAI has it. */
function wordsAsked(body: TranscriptionCreateParams): boolean {
  const raw = body["timestamp_granularities[]"];
  const asked = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (asked.length > 0 && (body.response_format ?? "json") !== "verbose_json") {
    throw invalidRequest("'timestamp_granularities[]' needs response_format 'verbose_json'.", "timestamp_granularities[]", "invalid_value");
  }
  return asked.includes("word");
}

function checkUnsupported(body: TranscriptionCreateParams): void {
  if (body.stream === "true") throw unsupportedParameter("stream", "Transcripts are returned whole.");
  if (body.chunking_strategy !== undefined && body.chunking_strategy !== "auto") {
    throw unsupportedParameter("chunking_strategy", "Audio is cut into 30-second windows overlapping by 5 s ('auto').");
  }
  if (body["include[]"] !== undefined) throw unsupportedParameter("include[]");
}

/** /v1/audio/transcriptions, /v1/audio/translations (Whisper models) and /v1/audio/speech (text-to-speech models). */
export const audioRoutes = (engine: Engine) =>
  new Elysia({ name: "audio" })
    .post(
      "/v1/audio/transcriptions",
      async ({ body, request, server }) => {
        const words = wordsAsked(body);
        checkUnsupported(body);
        server?.timeout(request, 0);
        return transcribe(engine, "/v1/audio/transcriptions", body, { task: "transcribe", language: body.language, words });
      },
      { body: TranscriptionCreateParams },
    )
    .post(
      "/v1/audio/translations",
      async ({ body, request, server }) => {
        server?.timeout(request, 0);
        return transcribe(engine, "/v1/audio/translations", body, { task: "translate" });
      },
      { body: TranslationCreateParams },
    )
    .post(
      "/v1/audio/speech",
      async ({ body, request, server }) => {
        if (body.instructions?.trim()) throw unsupportedParameter("instructions", "The speech models gpt3dev runs take no instructions.");
        if (body.stream_format === "sse") throw unsupportedParameter("stream_format", "Audio is streamed as raw bytes ('audio').");
        server?.timeout(request, 0);
        return speechResponse(engine, body, request.signal);
      },
      { body: SpeechCreateParams },
    );

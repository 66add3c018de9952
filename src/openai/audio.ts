import { t } from "elysia";

/**
 * Audio uploads are multipart/form-data: every field but `file` arrives as text, numbers included. A number field is
 * a decimal string here and is read (and range-checked) by the route, so no schema converts types behind its back.
 */
const FormNumber = (description: string) => t.String({ pattern: "^\\s*-?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?\\s*$", description });

const AudioFile = t.File({ description: "an audio file: WAV (PCM or float), FLAC, MP3 or Ogg/Opus" });

const TextResponseFormat = t.Union([t.Literal("json"), t.Literal("text"), t.Literal("srt"), t.Literal("verbose_json"), t.Literal("vtt")], {
  description: "'json', 'text', 'srt', 'verbose_json' or 'vtt'",
});
export type AudioResponseFormat = typeof TextResponseFormat.static;

const Granularity = t.Union([t.Literal("segment"), t.Literal("word")], { description: "'segment' or 'word'" });

/** The fields of /v1/audio/translations (OpenAI takes no `language` there: the output is English). */
const translationFields = {
  file: AudioFile,
  model: t.String({ minLength: 1 }),
  prompt: t.Optional(t.String()),
  response_format: t.Optional(TextResponseFormat),
  temperature: t.Optional(FormNumber("a number from 0 to 1")),
};

export const TranslationCreateParams = t.Object(translationFields, { additionalProperties: false });
export type TranslationCreateParams = typeof TranslationCreateParams.static;

export const TranscriptionCreateParams = t.Object(
  {
    ...translationFields,
    language: t.Optional(t.String({ minLength: 1, description: "an ISO 639-1 language code such as 'en'" })),
    // OpenAI's SDKs send a list field once per value under its name with "[]".
    "timestamp_granularities[]": t.Optional(t.Union([Granularity, t.Array(Granularity)])),
    /** Known, refused unless neutral (src/routes/audio.ts). */
    stream: t.Optional(t.Union([t.Literal("true"), t.Literal("false")], { description: "'true' or 'false'" })),
    chunking_strategy: t.Optional(t.String()),
    "include[]": t.Optional(t.Union([t.String(), t.Array(t.String())])),
  },
  { additionalProperties: false },
);
export type TranscriptionCreateParams = typeof TranscriptionCreateParams.static;

export const Transcription = t.Object({
  text: t.String(),
  usage: t.Object({ type: t.Literal("duration"), seconds: t.Number() }),
});
export type Transcription = typeof Transcription.static;

export const TranscriptionSegment = t.Object({
  id: t.Integer(),
  seek: t.Integer(),
  start: t.Number(),
  end: t.Number(),
  text: t.String(),
  temperature: t.Number(),
  compression_ratio: t.Number(),
});
export type TranscriptionSegment = typeof TranscriptionSegment.static;

export const TranscriptionVerbose = t.Object({
  task: t.Union([t.Literal("transcribe"), t.Literal("translate")]),
  language: t.String(),
  duration: t.Number(),
  text: t.String(),
  segments: t.Array(TranscriptionSegment),
  words: t.Optional(t.Array(t.Object({ word: t.String(), start: t.Number(), end: t.Number() }))),
  usage: t.Object({ type: t.Literal("duration"), seconds: t.Number() }),
});
export type TranscriptionVerbose = typeof TranscriptionVerbose.static;

export const SpeechResponseFormat = t.Union([t.Literal("wav"), t.Literal("pcm")], {
  description: "'wav' or 'pcm' (mp3, opus, aac and flac are not encoded by gpt3dev)",
});

export const SpeechCreateParams = t.Object(
  {
    model: t.String({ minLength: 1 }),
    input: t.String({ minLength: 1, maxLength: 4096, description: "a non-empty string of at most 4096 characters" }),
    voice: t.String({ minLength: 1, description: "the name of one of the model's voices" }),
    response_format: t.Optional(SpeechResponseFormat),
    speed: t.Optional(t.Number({ minimum: 0.25, maximum: 4 })),
    /** Known, refused unless neutral (src/routes/audio-speech.ts). */
    instructions: t.Optional(t.String()),
    stream_format: t.Optional(t.Union([t.Literal("audio"), t.Literal("sse")], { description: "'audio' or 'sse'" })),
  },
  { additionalProperties: false },
);
export type SpeechCreateParams = typeof SpeechCreateParams.static;

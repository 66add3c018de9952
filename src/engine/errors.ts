/**
 * Failures the engine reports. They carry plain facts; the HTTP layer decides how a client sees them
 * (src/errors.ts is the single mapping to OpenAI's envelope).
 */
export class ModelNotFoundError extends Error {
  constructor(readonly modelId: string) {
    super(`model ${modelId} is not available`);
    this.name = "ModelNotFoundError";
  }
}

export const MODEL_KINDS = ["text-generation", "embeddings", "moderation", "speech-recognition", "text-to-speech"] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

export class ModelKindError extends Error {
  constructor(
    readonly modelId: string,
    readonly actual: ModelKind,
    readonly wanted: ModelKind,
  ) {
    super(`model ${modelId} is a ${actual} model, not a ${wanted} model`);
    this.name = "ModelKindError";
  }
}

export class ModelLoadError extends Error {
  constructor(
    readonly modelId: string,
    readonly reason: string,
  ) {
    super(`model ${modelId} failed to load: ${reason}`);
    this.name = "ModelLoadError";
  }
}

/** The engine's name for a request argument: a CompletionRequest or EmbeddingRequest field, with an index into a list. */
export type Argument = string;

export class ContextLengthError extends Error {
  constructor(
    readonly limit: number,
    readonly promptTokens: number,
    readonly completionTokens: number,
    /** Which argument was too long, in the engine's terms: completion prompts, chat messages or embedding inputs. */
    readonly argument: "prompts" | "messages" | "inputs" = "prompts",
  ) {
    super(`context of ${limit} tokens exceeded`);
    this.name = "ContextLengthError";
  }
}

/**
 * A request value the engine can only judge once the model is known (e.g. a token id outside the vocabulary). The
 * message says what is wrong without naming the argument; each protocol names it in its own terms.
 */
export class InvalidInputError extends Error {
  constructor(
    message: string,
    /** E.g. `prompts[1]`, `inputs[0]`, `dimensions`, `tokens`. */
    readonly argument: Argument,
  ) {
    super(message);
    this.name = "InvalidInputError";
  }
}

export class ChatTemplateMissingError extends Error {
  constructor(readonly modelId: string) {
    super(`model ${modelId} has no chat template`);
    this.name = "ChatTemplateMissingError";
  }
}

/** A model's wait queue is full (`--max-queue`): the client should come back later. */
export class QueueFullError extends Error {
  constructor(
    /** Requests already waiting for that model. */
    readonly queued: number,
    /** A hint for the client's back-off. */
    readonly retryAfterSeconds = 1,
  ) {
    super(`${queued} requests are already waiting`);
    this.name = "QueueFullError";
  }
}

/**
 * Generating one request failed on a loaded model: its logits could not be sampled (e.g. NaN), stop matching or
 * detokenizing threw, or a run of the model failed. The request ends; the model and the other requests go on.
 */
export class GenerationError extends Error {
  constructor(
    readonly modelId: string,
    /** The cause, in the engine's words. */
    readonly reason: string,
  ) {
    super(`model ${modelId} failed while generating: ${reason}`);
    this.name = "GenerationError";
  }

  static from(modelId: string, cause: unknown): GenerationError {
    const error = new GenerationError(modelId, cause instanceof Error ? cause.message : String(cause));
    if (cause instanceof Error) error.cause = cause;
    return error;
  }
}

/** An engine worker died (a crash in native code or an uncaught error) while this request was in flight. */
export class EngineCrashError extends Error {
  constructor(
    readonly reason: string,
    /** Which engine worker: "generation" or "auxiliary". */
    readonly worker = "engine",
  ) {
    super(`the ${worker} worker stopped unexpectedly: ${reason}`);
    this.name = "EngineCrashError";
  }
}

/**
 * A model folder gpt3dev cannot serve as it is (an unknown family, a graph input it does not know how to feed, a
 * vision model, a missing ONNX file): `reason` says which, in words a user can act on.
 */
export class ModelUnsupportedError extends Error {
  constructor(
    readonly modelId: string,
    readonly reason: string,
  ) {
    super(`model ${modelId} cannot be served: ${reason}`);
    this.name = "ModelUnsupportedError";
  }
}

/** Raised while opening a model's files when their format is one gpt3dev does not serve; becomes ModelUnsupportedError. */
export class UnsupportedFormatError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "UnsupportedFormatError";
  }
}

/**
 * A structured-output request the constraint compiler cannot enforce: `keyword` is the JSON Schema keyword,
 * `pointer` where it sits, `toolIndex` the tool whose parameters hold it (undefined: the output format's schema).
 */
export class OutputConstraintError extends Error {
  constructor(
    message: string,
    readonly keyword: string,
    readonly pointer: string,
    readonly toolIndex?: number,
  ) {
    super(message);
    this.name = "OutputConstraintError";
  }
}

/**
 * A chat template failed to parse or render; `reason` is Jinja's message. `argument` is what to blame: the template
 * sent with the request, the variables sent with it (the model's own template then failed), or the messages.
 */
export class TemplateRenderError extends Error {
  constructor(
    readonly reason: string,
    readonly argument: "template" | "templateVariables" | "messages" = "messages",
  ) {
    super(`the chat template did not render: ${reason}`);
    this.name = "TemplateRenderError";
  }
}

export const AUDIO_FORMATS_ACCEPTED = "WAV (PCM or float), FLAC, MP3 and Ogg/Opus";

/** Uploaded audio that cannot be decoded: a format gpt3dev does not read (see AUDIO_FORMATS_ACCEPTED), or damaged data. */
export class UnsupportedAudioError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "UnsupportedAudioError";
  }
}

/** A voice the speech model does not have; `available` lists the ones it has. */
export class UnknownVoiceError extends Error {
  constructor(
    readonly voice: string,
    readonly available: string,
  ) {
    super(`unknown voice ${voice}`);
    this.name = "UnknownVoiceError";
  }
}

/**
 * What the auxiliary worker (src/engine/auxiliary-worker.ts) does: every model that does not generate text runs
 * there, in its own worker with its own model cache, so that a large request to one of them (256 embeddings inputs)
 * never stalls the decoding steps of the generation worker, and a crash of one worker leaves the other serving.
 *
 * To add a kind of model (a classifier, a speech model):
 *   1. its loaded class (with `kind`, `spec` and `release()`) joins `LoadedModel` in src/engine/model-host.ts and its
 *      kind joins `ModelKind` in src/engine/errors.ts;
 *   2. its loader goes in AUXILIARY_LOADERS below, its request handler in AUXILIARY_TASKS (one entry per task;
 *      request and result are plain data: they cross between threads by structured clone);
 *   3. an Engine method (src/engine/engine.ts) calls `this.auxiliary.task("<task>", request)`.
 * The message protocol, crash handling and respawn need no change.
 */
import { ModerationModel, type ModerationRequest, type ModerationResult } from "./classifier.ts";
import { EmbeddingModel, type EmbeddingRequest, type EmbeddingResult } from "./embedder.ts";
import type { ModelHost, ModelLoaders } from "./model-host.ts";
import { SpeechModel, type SpeechRequest, type SpeechResult } from "./speech-synthesizer.ts";
import { SpeechRecognitionModel, type TranscriptionRequest, type TranscriptionResult } from "./transcriber.ts";

/** How the auxiliary worker loads each kind it serves. */
export const AUXILIARY_LOADERS: ModelLoaders = {
  embeddings: (spec, settings) => EmbeddingModel.load(spec, settings.session),
  moderation: (spec, settings) => ModerationModel.load(spec, settings.session),
  "speech-recognition": (spec, settings) => SpeechRecognitionModel.load(spec, settings.session),
  "text-to-speech": (spec, settings) => SpeechModel.load(spec, settings.session),
};

/** One handler per task: it receives the worker's ModelHost and the request, and answers with the result. */
export const AUXILIARY_TASKS = {
  embeddings: (host: ModelHost, request: EmbeddingRequest): Promise<EmbeddingResult> =>
    host.withModel(request.model, "embeddings", async (model) => {
      const result = await model.embed(request.inputs, { dimensions: request.dimensions });
      return { modelId: model.spec.id, ...result };
    }),
  moderation: (host: ModelHost, request: ModerationRequest): Promise<ModerationResult> =>
    host.withModel(request.model, "moderation", async (model) => ({ modelId: model.spec.id, ...(await model.classify(request.texts)) })),
  /** Decodes the uploaded file here too: the HTTP thread never loads the audio decoders. */
  transcribe: (host: ModelHost, request: TranscriptionRequest): Promise<TranscriptionResult> =>
    host.withModel(request.model, "speech-recognition", async (model) => ({ modelId: model.spec.id, ...(await model.transcribe(request)) })),
  synthesize: (host: ModelHost, request: SpeechRequest): Promise<SpeechResult> =>
    host.withModel(request.model, "text-to-speech", async (model) => ({ modelId: model.spec.id, ...(await model.synthesize(request)) })),
} satisfies Record<string, (host: ModelHost, request: never) => Promise<unknown>>;

export type AuxiliaryTask = keyof typeof AUXILIARY_TASKS;
export type TaskRequest<T extends AuxiliaryTask> = Parameters<(typeof AUXILIARY_TASKS)[T]>[1];
export type TaskResult<T extends AuxiliaryTask> = Awaited<ReturnType<(typeof AUXILIARY_TASKS)[T]>>;

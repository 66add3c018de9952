import type { GraphOptimizationLevel } from "../runtime/session.ts";
import { engineWorkerUrl } from "../runtime/workers.ts";
import type { AuxiliaryTask, TaskRequest, TaskResult } from "./auxiliary-tasks.ts";
import type { CompletionRun } from "./completion-run.ts";
import type { CompletionRequest } from "./completions.ts";
import type { EmbeddingRequest, EmbeddingResult } from "./embedder.ts";
import type { ModerationRequest, ModerationResult } from "./classifier.ts";
import type { EngineObserver } from "./engine-events.ts";
import { ModelNotFoundError, ModelUnsupportedError } from "./errors.ts";
import type { Fp16Weights } from "./fp16-weights.ts";
import type { TiedHead } from "./tied-head.ts";
import { IdleCollector } from "./idle-collector.ts";
import { withToolCalls } from "./tool-call-events.ts";
import type { EngineSettings, EngineStats } from "./model-host.ts";
import type { ModelRegistry, ModelSpec } from "./registry.ts";
import { DEFAULT_SCHEDULER_OPTIONS, type SchedulerOptions } from "./generation-job.ts";
import type { TokenizeRequest, TokenizeResult } from "./tokenize.ts";
import type { SpeechRequest, SpeechResult } from "./speech-synthesizer.ts";
import type { TranscriptionRequest, TranscriptionResult } from "./transcriber.ts";
import { WorkerLink } from "./worker-link.ts";
import type { CallArgs, CallMethod, CallResult, ToWorker } from "./worker-protocol.ts";

export type { EngineStats } from "./model-host.ts";

export interface EngineOptions {
  registry: ModelRegistry;
  /** Loaded models kept at once; the least recently used idle one is unloaded beyond it. */
  maxLoadedModels: number;
  /** How long an idle model stays loaded when its registry entry does not say (ms); unset: until evicted. */
  keepAliveMs?: number;
  /** ONNX Runtime intra-op threads per session (0 = one per core). */
  intraOpThreads: number;
  /**
   * Intra-op threads for the auxiliary worker's models (embeddings); default AUXILIARY_INTRA_OP_THREADS, so that on
   * a small machine an embeddings request leaves cores to the decoding steps (bench/README.md, "Embeddings next to
   * streams"). 0 = one per core.
   */
  auxiliaryIntraOpThreads?: number;
  /**
   * Niceness of the auxiliary worker's thread and its ONNX Runtime threads (0–19); default AUXILIARY_NICE, so that
   * where they compete for a core the decoding steps win it and streams keep their pace (bench/README.md).
   */
  auxiliaryNice?: number;
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** Folder for decoder graphs rewritten at load time; unset: model files are opened as they are. */
  cacheDir?: string;
  /** false: ONNX Runtime keeps matrix weights once instead of beside a pre-packed copy (less memory, slower GEMM). */
  prepackWeights?: boolean;
  /** false: pre-packed weights are made at every load in the heap instead of mapped from the cache (src/runtime/packed-weights.ts). */
  packedWeightsFile?: boolean;
  /** ONNX Runtime threads spin while a run is in flight (src/runtime/session.ts). */
  spinning?: boolean;
  /** false: decoders run through onnxruntime-node, which copies every output after each step (src/runtime/session.ts). */
  inPlaceOutputs?: boolean;
  /** ONNX Runtime's CPU memory arena (src/runtime/session.ts). */
  memoryArena?: boolean;
  /** false: decoder attention runs as exported instead of GroupQueryAttention over a cache extended in place. */
  fusedAttention?: boolean;
  /** What text models' fp16 files do with their matrix weights (src/engine/fp16-weights.ts); default auto. */
  fp16Weights?: Fp16Weights;
  /** What text models' tied LM heads do (src/engine/tied-head.ts); default auto. */
  tiedHead?: TiedHead;
  /** Continuous batching limits; unset fields keep DEFAULT_SCHEDULER_OPTIONS. */
  scheduler?: Partial<SchedulerOptions>;
  /** Where the engine reports a crash of its worker (default: stderr). */
  log?: (line: string) => void;
  /** Told what the engine reports about itself (decode steps, model loads), for logs and metrics. */
  observer?: EngineObserver;
}

/** See EngineOptions.auxiliaryIntraOpThreads. */
export const AUXILIARY_INTRA_OP_THREADS = 1;
/** See EngineOptions.auxiliaryNice. */
export const AUXILIARY_NICE = 10;

/**
 * Everything the HTTP layer may ask of the models: listing them, generating, embedding and tokenizing with them.
 * Listing is answered here; the rest runs in one of two workers, each owning its models' ONNX sessions so that no
 * `session.run` blocks HTTP: text generation (and tokenizing) in the generation worker
 * (src/engine/generation-worker.ts), every other kind of model in the auxiliary worker
 * (src/engine/auxiliary-worker.ts, tasks in src/engine/auxiliary-tasks.ts), so that a large embeddings request never
 * stalls decoding and a crash of one worker leaves the other serving. Each worker has its own model cache, so
 * `maxLoadedModels` applies to each. Engine errors come back as instances of their own classes.
 */
export class Engine {
  private readonly generation: WorkerLink;
  private readonly auxiliary: WorkerLink;
  /** The HTTP thread's share of a request's garbage (events, JSON) is reclaimed between bursts too. */
  private readonly collector = new IdleCollector();

  constructor(private readonly options: EngineOptions) {
    const session = {
      intraOpThreads: options.intraOpThreads,
      graphOptimizationLevel: options.graphOptimizationLevel,
      cacheDir: options.cacheDir,
      prepackWeights: options.prepackWeights,
      packedWeightsFile: options.packedWeightsFile,
      spinning: options.spinning,
      inPlaceOutputs: options.inPlaceOutputs,
      memoryArena: options.memoryArena,
      fusedAttention: options.fusedAttention,
    };
    const settings: EngineSettings = {
      maxLoadedModels: options.maxLoadedModels,
      ...(options.fp16Weights === undefined ? {} : { fp16Weights: options.fp16Weights }),
      ...(options.tiedHead === undefined ? {} : { tiedHead: options.tiedHead }),
      ...(options.keepAliveMs === undefined ? {} : { keepAliveMs: options.keepAliveMs }),
      session,
      scheduler: { ...DEFAULT_SCHEDULER_OPTIONS, ...options.scheduler },
    };
    const auxiliarySettings: EngineSettings = {
      ...settings,
      session: { ...session, intraOpThreads: options.auxiliaryIntraOpThreads ?? AUXILIARY_INTRA_OP_THREADS },
      nice: options.auxiliaryNice ?? AUXILIARY_NICE,
    };
    const link = (name: "generation" | "auxiliary", workerSettings: EngineSettings) =>
      new WorkerLink({
        name,
        url: () => engineWorkerUrl(name),
        init: () => ({ specs: this.listModels(), settings: workerSettings }),
        onMessage: (message) => {
          if (message.type === "observed") this.options.observer?.(message.event);
        },
        onActivity: () => {
          if (this.generation.inFlight + this.auxiliary.inFlight === 0) this.collector.idle();
          else this.collector.busy();
        },
        log: options.log ?? ((line: string) => console.error(line)),
      });
    this.generation = link("generation", settings);
    this.auxiliary = link("auxiliary", auxiliarySettings);
  }

  listModels(): ModelSpec[] {
    return this.options.registry.list();
  }

  getModel(id: string): ModelSpec {
    const spec = this.options.registry.get(id);
    if (!spec) throw this.unavailable(id);
    return spec;
  }

  /** A refused folder's id is answered with its reason, any other unknown id as not found. */
  private unavailable(id: string): Error {
    const reason = this.options.registry.refusal(id);
    return reason === undefined ? new ModelNotFoundError(id) : new ModelUnsupportedError(id, reason);
  }

  /** Requests for a refused folder fail here with its reason, before the worker (which never sees it) is asked. */
  private checkServable(id: string): void {
    if (!this.options.registry.get(id) && this.options.registry.refusal(id) !== undefined) throw this.unavailable(id);
  }

  /** Loads the model if needed, tokenizes and queues; throws (before any output) when the request cannot be served. */
  async createCompletion(request: CompletionRequest): Promise<CompletionRun> {
    this.checkServable(request.model);
    const { signal, ...plain } = request;
    const generation = this.generation;
    const run = (await generation.send((id) => {
      // Forwarded at once: a request can wait in the worker (model loading, queue) long before it has a run here.
      signal?.addEventListener("abort", () => generation.cancel(id), { once: true });
      return { type: "complete", id, request: plain };
    }, signal)) as CompletionRun;
    return request.tools && request.tools.choice.type !== "none" ? withToolCalls(run) : run;
  }

  async createEmbeddings(request: EmbeddingRequest): Promise<EmbeddingResult> {
    this.checkServable(request.model);
    return this.task("embeddings", request);
  }

  /** Speech to text; the audio file's bytes travel to the auxiliary worker, which decodes them. */
  async transcribe(request: TranscriptionRequest): Promise<TranscriptionResult> {
    this.checkServable(request.model);
    return this.task("transcribe", request);
  }

  /** Text to speech, one piece of text at a time (src/engine/speech-text.ts cuts a long input into sentences). */
  async synthesize(request: SpeechRequest): Promise<SpeechResult> {
    this.checkServable(request.model);
    return this.task("synthesize", request);
  }

  async moderate(request: ModerationRequest): Promise<ModerationResult> {
    this.checkServable(request.model);
    return this.task("moderation", request);
  }

  /** Loads a model now rather than on its first request, in the worker serving its kind; resolves once loaded. */
  async loadModel(id: string): Promise<void> {
    const link = this.linkFor(this.getModel(id));
    await link.send((callId) => ({ type: "call", id: callId, method: "loadModel", args: [id] }));
  }

  /** Unloads a model once the requests holding it end; false when it was not loaded. Never starts a worker. */
  async unloadModel(id: string): Promise<boolean> {
    const link = this.linkFor(this.getModel(id));
    if (!link.running) return false;
    return (await link.send((callId) => ({ type: "call", id: callId, method: "unloadModel", args: [id] }))) as boolean;
  }

  /** Text generation runs in the generation worker, every other kind in the auxiliary worker. */
  private linkFor(spec: ModelSpec): WorkerLink {
    return spec.kind === "text-generation" ? this.generation : this.auxiliary;
  }

  async tokenize(request: TokenizeRequest): Promise<TokenizeResult> {
    this.checkServable(request.model);
    return this.call("tokenize", request);
  }

  async detokenize(model: string, tokens: readonly number[]): Promise<string> {
    this.checkServable(model);
    return this.call("detokenize", model, tokens);
  }

  /** What each loaded model's scheduler is doing and has done, over both workers (for tests, the bench and logs). */
  async stats(): Promise<EngineStats> {
    const [generation, auxiliary] = await Promise.all([this.call("stats"), this.auxiliaryStats()]);
    return mergeStats(generation, auxiliary);
  }

  /** The stats, or undefined while no worker runs: asking never starts one (metrics scrapes). */
  async statsIfRunning(): Promise<EngineStats | undefined> {
    if (!this.generation.running && !this.auxiliary.running) return undefined;
    const generation = this.generation.running ? await this.call("stats") : undefined;
    return mergeStats(generation, await this.auxiliaryStats());
  }

  /** What each loaded model costs in memory; nothing is loaded (and no worker is started) before the first use. */
  async loadedMemory(): Promise<EngineStats["memory"]> {
    return (await this.statsIfRunning())?.memory ?? {};
  }

  /** Unloads every model and stops the workers. */
  async close(): Promise<void> {
    await Promise.all(
      [this.generation, this.auxiliary].map(async (link) => {
        if (!link.running) return;
        try {
          await link.send((id) => ({ type: "call", id, method: "close", args: [] }));
        } finally {
          link.stop(new Error("the engine was closed"));
        }
      }),
    );
  }

  /** A request/reply call to the generation worker's host. */
  private call<M extends CallMethod>(method: M, ...args: CallArgs<M>): Promise<CallResult<M>> {
    return this.generation.send((id) => ({ type: "call", id, method, args })) as Promise<CallResult<M>>;
  }

  /** One task of the auxiliary worker (src/engine/auxiliary-tasks.ts). */
  private task<T extends AuxiliaryTask>(task: T, request: TaskRequest<T>): Promise<TaskResult<T>> {
    return this.auxiliary.send((id) => ({ type: "task", id, task, request }) satisfies ToWorker) as Promise<TaskResult<T>>;
  }

  /** The auxiliary worker's stats if it runs (asking never starts it). */
  private async auxiliaryStats(): Promise<EngineStats | undefined> {
    if (!this.auxiliary.running) return undefined;
    return (await this.auxiliary.send((id) => ({ type: "call", id, method: "stats", args: [] }))) as EngineStats;
  }
}

function mergeStats(...parts: (EngineStats | undefined)[]): EngineStats {
  const merged: EngineStats = { loaded: [], models: {}, memory: {} };
  for (const part of parts) {
    if (!part) continue;
    merged.loaded.push(...part.loaded);
    Object.assign(merged.models, part.models);
    Object.assign(merged.memory, part.memory);
  }
  return merged;
}

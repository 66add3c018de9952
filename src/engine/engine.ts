import type { GraphOptimizationLevel } from "../runtime/session.ts";
import { createRun, type CompletionRun, type RunFeed } from "./completion-run.ts";
import type { CompletionRequest } from "./completions.ts";
import type { EmbeddingRequest, EmbeddingResult } from "./embedder.ts";
import { ModelNotFoundError } from "./errors.ts";
import { ModelHost, type EngineStats } from "./model-host.ts";
import type { ModelRegistry, ModelSpec } from "./registry.ts";
import { DEFAULT_SCHEDULER_OPTIONS, type SchedulerOptions } from "./scheduler.ts";
import type { TokenizeRequest, TokenizeResult } from "./tokenize.ts";

export type { EngineStats } from "./model-host.ts";

export interface EngineOptions {
  registry: ModelRegistry;
  /** Loaded models kept at once; the least recently used idle one is unloaded beyond it. */
  maxLoadedModels: number;
  /** ONNX Runtime intra-op threads per session (0 = one per core). */
  intraOpThreads: number;
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** Continuous batching limits; unset fields keep DEFAULT_SCHEDULER_OPTIONS. */
  scheduler?: Partial<SchedulerOptions>;
}

/** Everything the HTTP layer may ask of the models: listing them, generating, embedding and tokenizing with them. */
export class Engine {
  private readonly host: ModelHost;

  constructor(private readonly options: EngineOptions) {
    this.host = new ModelHost(options.registry.list(), {
      maxLoadedModels: options.maxLoadedModels,
      session: { intraOpThreads: options.intraOpThreads, graphOptimizationLevel: options.graphOptimizationLevel },
      scheduler: { ...DEFAULT_SCHEDULER_OPTIONS, ...options.scheduler },
    });
  }

  listModels(): ModelSpec[] {
    return this.options.registry.list();
  }

  getModel(id: string): ModelSpec {
    const spec = this.options.registry.get(id);
    if (!spec) throw new ModelNotFoundError(id);
    return spec;
  }

  /** Loads the model if needed, tokenizes and queues; throws (before any output) when the request cannot be served. */
  async createCompletion(request: CompletionRequest): Promise<CompletionRun> {
    let feed: RunFeed | undefined;
    // The scheduler delivers nothing before its next step, by which time `feed` is set.
    const started = await this.host.startCompletion(request, {
      events: (events) => feed?.events(events),
      done: (tokens) => feed?.done(tokens),
      fail: (error) => feed?.fail(error),
    });
    const made = createRun({ modelId: started.modelId, promptTokens: started.promptTokens }, started.cancel, request.signal);
    feed = made.feed;
    return made.run;
  }

  createEmbeddings(request: EmbeddingRequest): Promise<EmbeddingResult> {
    return this.host.createEmbeddings(request);
  }

  tokenize(request: TokenizeRequest): Promise<TokenizeResult> {
    return this.host.tokenize(request);
  }

  detokenize(model: string, tokens: readonly number[]): Promise<string> {
    return this.host.detokenize(model, tokens);
  }

  /** What each loaded model's scheduler is doing and has done (for tests, the bench and logs). */
  async stats(): Promise<EngineStats> {
    return this.host.stats();
  }

  close(): Promise<void> {
    return this.host.close();
  }
}

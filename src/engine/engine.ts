import { prepareCompletion, type CompletionRequest, type CompletionRun } from "./completions.ts";
import { EmbeddingModel, type EmbeddingRequest, type EmbeddingResult } from "./embedder.ts";
import { ModelKindError, ModelLoadError, ModelNotFoundError } from "./errors.ts";
import { ModelCache, type Lease } from "./model-cache.ts";
import type { ModelRegistry, ModelSpec } from "./registry.ts";
import { TextModel } from "./text-model.ts";
import { detokenizeWith, tokenizeWith, type TokenizeRequest, type TokenizeResult } from "./tokenize.ts";

export interface EngineOptions {
  registry: ModelRegistry;
  /** Loaded models kept at once; the least recently used idle one is unloaded beyond it. */
  maxLoadedModels: number;
  /** ONNX Runtime intra-op threads per session (0 = one per core). */
  intraOpThreads: number;
}

type LoadedModel = TextModel | EmbeddingModel;
type ModelOfKind<K extends LoadedModel["kind"]> = Extract<LoadedModel, { kind: K }>;

/** Everything the HTTP layer may ask of the models: listing them, generating and embedding with them. */
export class Engine {
  private readonly cache: ModelCache<LoadedModel>;

  constructor(private readonly options: EngineOptions) {
    this.cache = new ModelCache((id) => this.load(id), options.maxLoadedModels);
  }

  listModels(): ModelSpec[] {
    return this.options.registry.list();
  }

  getModel(id: string): ModelSpec {
    const spec = this.options.registry.get(id);
    if (!spec) throw new ModelNotFoundError(id);
    return spec;
  }

  loadedModelIds(): string[] {
    return this.cache.loadedIds();
  }

  /** Loads the model if needed and tokenizes; throws (before any output) when the request cannot be served. */
  async createCompletion(request: CompletionRequest): Promise<CompletionRun> {
    const lease = await this.acquire(request.model, "text-generation");
    return prepareCompletion(lease, request);
  }

  async createEmbeddings(request: EmbeddingRequest): Promise<EmbeddingResult> {
    const lease = await this.acquire(request.model, "embeddings");
    try {
      const result = await lease.model.embed(request.inputs, { dimensions: request.dimensions });
      return { modelId: lease.model.spec.id, ...result };
    } finally {
      lease.done();
    }
  }

  async tokenize(request: TokenizeRequest): Promise<TokenizeResult> {
    const lease = await this.acquire(request.model, "text-generation");
    try {
      return tokenizeWith(lease.model, request);
    } finally {
      lease.done();
    }
  }

  async detokenize(model: string, tokens: readonly number[]): Promise<string> {
    const lease = await this.acquire(model, "text-generation");
    try {
      return detokenizeWith(lease.model, tokens);
    } finally {
      lease.done();
    }
  }

  close(): Promise<void> {
    return this.cache.unloadAll();
  }

  private async acquire<K extends LoadedModel["kind"]>(id: string, kind: K): Promise<Lease<ModelOfKind<K>>> {
    const spec = this.getModel(id);
    if (spec.kind !== kind) throw new ModelKindError(spec.id, spec.kind, kind);
    const lease = await this.cache.acquire(spec.id);
    if (lease.model.kind !== kind) {
      lease.done();
      throw new ModelKindError(spec.id, lease.model.kind, kind);
    }
    return lease as Lease<ModelOfKind<K>>;
  }

  private async load(id: string): Promise<LoadedModel> {
    const spec = this.getModel(id);
    const threads = this.options.intraOpThreads;
    try {
      return spec.kind === "embeddings" ? await EmbeddingModel.load(spec, threads) : await TextModel.load(spec, threads);
    } catch (error) {
      throw new ModelLoadError(id, error instanceof Error ? error.message : String(error));
    }
  }
}

import { prepareCompletion, type CompletionRequest, type CompletionRun } from "./completions.ts";
import { ModelKindError, ModelLoadError, ModelNotFoundError } from "./errors.ts";
import { ModelCache } from "./model-cache.ts";
import type { ModelRegistry, ModelSpec } from "./registry.ts";
import { TextModel } from "./text-model.ts";

export interface EngineOptions {
  registry: ModelRegistry;
  /** Loaded models kept at once; the least recently used idle one is unloaded beyond it. */
  maxLoadedModels: number;
  /** ONNX Runtime intra-op threads per session (0 = one per core). */
  intraOpThreads: number;
}

/** Everything the HTTP layer may ask of the models: listing them and generating with them. */
export class Engine {
  private readonly cache: ModelCache<TextModel>;

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
    const spec = this.getModel(request.model);
    if (spec.kind !== "text-generation") throw new ModelKindError(spec.id, spec.kind, "text-generation");
    const lease = await this.cache.acquire(spec.id);
    return prepareCompletion(lease, request);
  }

  close(): Promise<void> {
    return this.cache.unloadAll();
  }

  private async load(id: string): Promise<TextModel> {
    const spec = this.getModel(id);
    try {
      return await TextModel.load(spec, this.options.intraOpThreads);
    } catch (error) {
      throw new ModelLoadError(id, error instanceof Error ? error.message : String(error));
    }
  }
}

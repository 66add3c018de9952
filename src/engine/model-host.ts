import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { releaseFreeHeap } from "../runtime/heap.ts";
import type { SessionSettings } from "../runtime/session.ts";
import type { EngineObserver, LoadedFile } from "./engine-events.ts";
import type { RunFeed } from "./completion-run.ts";
import { planCompletion, type CompletionRequest } from "./completions.ts";
import { systemFingerprint } from "./fingerprint.ts";
import { EmbeddingModel, type EmbeddingRequest, type EmbeddingResult } from "./embedder.ts";
import { ModelKindError, ModelLoadError, ModelNotFoundError, ModelUnsupportedError, UnsupportedFormatError } from "./errors.ts";
import { ModelCache, type Lease } from "./model-cache.ts";
import { onnxFileFor, type ModelSpec } from "./registry.ts";
import type { SchedulerOptions, SchedulerStats } from "./generation-job.ts";
import { TextModel } from "./text-model.ts";
import { detokenizeWith, tokenizeWith, type TokenizeRequest, type TokenizeResult } from "./tokenize.ts";

/** Everything the model side needs to know, as plain data (it crosses into the engine worker in a message). */
export interface EngineSettings {
  /** Loaded models kept at once; the least recently used idle one is unloaded beyond it. */
  maxLoadedModels: number;
  session: SessionSettings;
  scheduler: SchedulerOptions;
}

export interface StartedCompletion {
  modelId: string;
  systemFingerprint: string;
  promptTokens: number;
  cancel(): void;
}

export interface EngineStats {
  /** Loaded (or loading) models. */
  loaded: string[];
  /** Per loaded text model, what its scheduler did so far. */
  models: Record<string, SchedulerStats>;
  /** Per loaded model, what it costs in memory. */
  memory: Record<string, ModelMemory>;
}

export interface ModelMemory {
  /** Size of the model's ONNX file(s) on disk (the file the dtype picks and its external data). */
  fileBytes: number;
  /** How much the process's RSS grew while the model loaded (approximate when other work ran meanwhile). */
  loadRssBytes: number;
  /** Text models: the key/value cache its batch holds now, reserved by admitted sequences, and its limit. */
  kvCacheBytes?: number;
  kvCacheReservedBytes?: number;
  kvCacheLimitBytes?: number | null;
}

type LoadedModel = TextModel | EmbeddingModel;
type ModelOfKind<K extends LoadedModel["kind"]> = Extract<LoadedModel, { kind: K }>;

/**
 * Owns the models and their ONNX sessions: the model cache, one scheduler per loaded text model, the tokenizers.
 * It runs inside the engine worker (src/engine/engine-worker.ts), so that no `session.run` blocks the HTTP thread.
 */
export class ModelHost {
  private readonly specs: ReadonlyMap<string, ModelSpec>;
  private readonly cache: ModelCache<LoadedModel>;
  private readonly loadFacts = new Map<string, ModelMemory>();

  constructor(
    specs: readonly ModelSpec[],
    private readonly settings: EngineSettings,
    private readonly observe: EngineObserver = () => {},
  ) {
    this.specs = new Map(specs.map((spec) => [spec.id, spec]));
    this.cache = new ModelCache((id) => this.load(id), settings.maxLoadedModels);
  }

  /**
   * Loads the model if needed, tokenizes and queues the request; throws (before any output) when it cannot be
   * served, QueueFullError included. Output and the end of the run go to `feed`; `request.signal` cancels it, and a
   * request cancelled while its model loaded is never queued.
   */
  async startCompletion(request: CompletionRequest, feed: RunFeed): Promise<StartedCompletion> {
    const lease = await this.acquire(request.model, "text-generation");
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      lease.done();
    };
    try {
      const model = lease.model;
      const plan = planCompletion(model, request);
      const started = { modelId: model.spec.id, systemFingerprint: systemFingerprint(model.spec), promptTokens: plan.promptTokens };
      if (request.signal?.aborted) {
        release();
        feed.done(0);
        return { ...started, cancel() {} };
      }
      const handle = model.scheduler.submit({
        ...plan.job,
        sink: {
          events: (events) => feed.events(events),
          done: (tokens, cached) => {
            release();
            feed.done(tokens, cached);
          },
          fail: (error) => {
            release();
            feed.fail(error);
          },
        },
      });
      request.signal?.addEventListener("abort", handle.cancel, { once: true });
      return { ...started, cancel: handle.cancel };
    } catch (error) {
      release();
      throw error;
    }
  }

  async createEmbeddings(request: EmbeddingRequest): Promise<EmbeddingResult> {
    return this.withModel(request.model, "embeddings", async (model) => {
      const result = await model.embed(request.inputs, { dimensions: request.dimensions });
      return { modelId: model.spec.id, ...result };
    });
  }

  tokenize(request: TokenizeRequest): Promise<TokenizeResult> {
    return this.withModel(request.model, "text-generation", async (model) => tokenizeWith(model, request));
  }

  detokenize(model: string, tokens: readonly number[]): Promise<string> {
    return this.withModel(model, "text-generation", async (loaded) => detokenizeWith(loaded, tokens));
  }

  stats(): EngineStats {
    const models: Record<string, SchedulerStats> = {};
    const memory: Record<string, ModelMemory> = {};
    for (const id of this.cache.loadedIds()) {
      const model = this.cache.peek(id);
      const facts = this.loadFacts.get(id);
      if (!model || !facts) continue;
      memory[id] = { ...facts };
      if (model.kind !== "text-generation") continue;
      const s = model.scheduler.stats();
      models[id] = s;
      Object.assign(memory[id]!, { kvCacheBytes: s.kvCacheBytes, kvCacheReservedBytes: s.kvCacheReservedBytes, kvCacheLimitBytes: s.kvCacheLimitBytes });
    }
    return { loaded: this.cache.loadedIds(), models, memory };
  }

  close(): Promise<void> {
    return this.cache.unloadAll();
  }

  private async withModel<K extends LoadedModel["kind"], T>(id: string, kind: K, use: (model: ModelOfKind<K>) => Promise<T>): Promise<T> {
    const lease = await this.acquire(id, kind);
    try {
      return await use(lease.model);
    } finally {
      lease.done();
    }
  }

  private async acquire<K extends LoadedModel["kind"]>(id: string, kind: K): Promise<Lease<ModelOfKind<K>>> {
    const spec = this.spec(id);
    if (spec.kind !== kind) throw new ModelKindError(spec.id, spec.kind, kind);
    const lease = await this.cache.acquire(spec.id);
    if (lease.model.kind !== kind) {
      lease.done();
      throw new ModelKindError(spec.id, lease.model.kind, kind);
    }
    return lease as Lease<ModelOfKind<K>>;
  }

  private spec(id: string): ModelSpec {
    const spec = this.specs.get(id);
    if (!spec) throw new ModelNotFoundError(id);
    return spec;
  }

  private async load(id: string): Promise<LoadedModel> {
    const spec = this.spec(id);
    const started = performance.now();
    const files = modelFiles(spec);
    const report = (ok: boolean, error?: string) =>
      this.observe({
        kind: "load",
        model: id,
        ok,
        seconds: (performance.now() - started) / 1000,
        files,
        bytes: files.reduce((sum, f) => sum + f.bytes, 0),
        error,
      });
    try {
      const before = process.memoryUsage.rss();
      const model =
        spec.kind === "embeddings"
          ? await EmbeddingModel.load(spec, this.settings.session)
          : await TextModel.load(spec, this.settings.session, this.settings.scheduler);
      // Loading frees the weights ONNX Runtime read or pre-packed; without this the C heap keeps them mapped.
      releaseFreeHeap();
      const fileBytes = files.filter((f) => f.path.startsWith("onnx")).reduce((sum, f) => sum + f.bytes, 0);
      this.loadFacts.set(id, { fileBytes, loadRssBytes: Math.max(0, process.memoryUsage.rss() - before) });
      if (model.kind === "text-generation") model.scheduler.onStep = (rows) => this.observe({ kind: "step", model: id, rows });
      report(true);
      return model;
    } catch (error) {
      if (error instanceof UnsupportedFormatError) throw new ModelUnsupportedError(id, error.reason);
      // Clients see the cause but not where the server keeps its models.
      const reason = (error instanceof Error ? error.message : String(error)).replaceAll(spec.dir, `<model ${id}>`);
      report(false, reason);
      throw new ModelLoadError(id, reason);
    }
  }
}

/** The files a load reads (what it costs on disk), for the load report. */
function modelFiles(spec: ModelSpec): LoadedFile[] {
  let onnx: string;
  try {
    onnx = join("onnx", onnxFileFor(spec.dtype));
  } catch {
    return [];
  }
  const names = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", onnx, `${onnx}_data`];
  return names
    .filter((name) => existsSync(join(spec.dir, name)))
    .map((name) => ({ path: name, bytes: statSync(join(spec.dir, name)).size }));
}

import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { releaseFreeHeap } from "../runtime/heap.ts";
import type { SessionSettings } from "../runtime/session.ts";
import type { EngineObserver, LoadedFile } from "./engine-events.ts";
import type { ModerationModel } from "./classifier.ts";
import type { EmbeddingModel } from "./embedder.ts";
import type { Fp16Weights } from "./fp16-weights.ts";
import type { TiedHead } from "./tied-head.ts";
import { ModelKindError, ModelLoadError, ModelNotFoundError, ModelUnsupportedError, UnsupportedFormatError } from "./errors.ts";
import { keepAliveFor } from "./keep-alive.ts";
import { ModelCache, type Lease } from "./model-cache.ts";
import { graphWithData, onnxFilesFor } from "./model-files.ts";
import type { ModelSpec } from "./registry.ts";
import type { SpeechModel } from "./speech-synthesizer.ts";
import type { SpeechRecognitionModel } from "./transcriber.ts";
import type { SchedulerOptions, SchedulerStats } from "./generation-job.ts";
import type { TextModel } from "./text-model.ts";

/** Everything the model side needs to know, as plain data (it crosses into the engine worker in a message). */
export interface EngineSettings {
  /** Loaded models kept at once; the least recently used idle one is unloaded beyond it. */
  maxLoadedModels: number;
  session: SessionSettings;
  scheduler: SchedulerOptions;
  /** What text models' fp16 files do with their matrix weights (src/engine/fp16-weights.ts); default auto. */
  fp16Weights?: Fp16Weights;
  /** What text models' tied LM heads do (src/engine/tied-head.ts); default auto. */
  tiedHead?: TiedHead;
  /** How long an idle model stays loaded when its registry entry does not say (ms); unset: until evicted. */
  keepAliveMs?: number;
  /** Niceness the worker's thread takes at start (Linux: per thread), so decoding wins the cores it competes for. */
  nice?: number;
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
  /**
   * How much the process's RSS grew while the model loaded and, for a text model, ran its first step (weights mapped
   * from a file come in as they are first read); approximate when other work ran meanwhile.
   */
  loadRssBytes: number;
  /** Text models: the key/value cache its batch holds now, reserved by admitted sequences, and its limit. */
  kvCacheBytes?: number;
  kvCacheReservedBytes?: number;
  kvCacheLimitBytes?: number | null;
  /** fp16 text models: whether their matrix weights stay fp16 in memory or were widened to fp32 at load. */
  fp16Weights?: "float16" | "float32";
  /** Text models with a tied LM head: whether ONNX Runtime keeps a packed copy of the table for it. */
  tiedHead?: "packed" | "shared";
}

/** Every kind of loaded model; a new kind adds its class here and its loader where its worker builds its host. */
export type LoadedModel = TextModel | EmbeddingModel | ModerationModel | SpeechRecognitionModel | SpeechModel;
export type LoadedKind = LoadedModel["kind"];
export type ModelOfKind<K extends LoadedKind> = Extract<LoadedModel, { kind: K }>;

/** How each kind a host serves is loaded; the host loads no other kind. */
export type ModelLoaders = { [K in LoadedKind]?: (spec: ModelSpec, settings: EngineSettings) => Promise<ModelOfKind<K>> };

/**
 * Owns one worker's models and their ONNX sessions: its model cache (its own `maxLoadedModels`), the load reports
 * and memory facts, one scheduler per loaded text model. Each engine worker holds one: the generation worker
 * (src/engine/generation-host.ts adds completions and tokenizing) and the auxiliary worker
 * (src/engine/auxiliary-tasks.ts), so that no `session.run` blocks the HTTP thread or the other worker.
 */
export class ModelHost {
  private readonly specs: ReadonlyMap<string, ModelSpec>;
  private readonly cache: ModelCache<LoadedModel>;
  private readonly loadFacts = new Map<string, ModelMemory>();

  constructor(
    specs: readonly ModelSpec[],
    private readonly settings: EngineSettings,
    private readonly loaders: ModelLoaders,
    private readonly observe: EngineObserver = () => {},
  ) {
    this.specs = new Map(specs.map((spec) => [spec.id, spec]));
    const keepAliveMs = (id: string) => keepAliveFor(this.specs.get(id)?.keepAliveMs, settings.keepAliveMs);
    this.cache = new ModelCache((id) => this.load(id), settings.maxLoadedModels, { keepAliveMs });
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

  /** Loads the model (if it is not loaded); it then stays as long as any loaded model would. */
  async loadModel(id: string): Promise<void> {
    await this.withModel(id, this.spec(id).kind, async () => {});
  }

  /** Unloads the model once the requests holding it end; false when it was not loaded. */
  unloadModel(id: string): Promise<boolean> {
    this.spec(id);
    return this.cache.unload(id);
  }

  /** Runs `use` with the model loaded and kept loaded until it settles; a model of another kind is refused. */
  async withModel<K extends LoadedKind, T>(id: string, kind: K, use: (model: ModelOfKind<K>) => Promise<T>): Promise<T> {
    const lease = await this.acquire(id, kind);
    try {
      return await use(lease.model);
    } finally {
      lease.done();
    }
  }

  /** The model of that kind, loaded and leased: call `done()` on the lease when finished with it. */
  async acquire<K extends LoadedKind>(id: string, kind: K): Promise<Lease<ModelOfKind<K>>> {
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
      const loader = this.loaders[spec.kind] as ((spec: ModelSpec, settings: EngineSettings) => Promise<LoadedModel>) | undefined;
      // The engine routes each request to the worker serving its kind: reaching this is a bug, not a user error.
      if (!loader) throw new Error(`this worker does not serve ${spec.kind} models`);
      const model = await loader(spec, this.settings);
      // Loading frees the weights ONNX Runtime read or pre-packed; without this the C heap keeps them mapped.
      releaseFreeHeap();
      const fileBytes = files.filter((f) => f.path.startsWith("onnx")).reduce((sum, f) => sum + f.bytes, 0);
      const facts: ModelMemory = { fileBytes, loadRssBytes: Math.max(0, process.memoryUsage.rss() - before) };
      this.loadFacts.set(id, facts);
      if (model.kind === "text-generation") {
        if (spec.dtype === "fp16") facts.fp16Weights = model.decoder.rewrites.includes("half-weights") ? "float16" : "float32";
        if (model.tiedHead !== undefined) facts.tiedHead = model.tiedHead;
        let first = true;
        model.scheduler.onStep = (rows) => {
          if (first) facts.loadRssBytes = Math.max(facts.loadRssBytes, process.memoryUsage.rss() - before);
          first = false;
          this.observe({ kind: "step", model: id, rows });
        };
      }
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
  let onnx: string[];
  try {
    onnx = onnxFilesFor(spec.kind, spec.dtype).flatMap((file) => graphWithData(join(spec.dir, "onnx"), file).map((name) => join("onnx", name)));
  } catch {
    return [];
  }
  const names = ["config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", ...onnx];
  return names
    .filter((name) => existsSync(join(spec.dir, name)))
    .map((name) => ({ path: name, bytes: statSync(join(spec.dir, name)).size }));
}

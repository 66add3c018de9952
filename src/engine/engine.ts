import type { GraphOptimizationLevel } from "../runtime/session.ts";
import { engineWorkerUrl } from "../runtime/workers.ts";
import { createRun, type CompletionRun, type RunFeed } from "./completion-run.ts";
import type { CompletionRequest } from "./completions.ts";
import type { EmbeddingRequest, EmbeddingResult } from "./embedder.ts";
import type { EngineObserver } from "./engine-events.ts";
import { EngineCrashError, ModelNotFoundError, ModelUnsupportedError } from "./errors.ts";
import { IdleCollector } from "./idle-collector.ts";
import { withToolCalls } from "./tool-call-events.ts";
import type { EngineSettings, EngineStats } from "./model-host.ts";
import type { ModelRegistry, ModelSpec } from "./registry.ts";
import { DEFAULT_SCHEDULER_OPTIONS, type SchedulerOptions } from "./generation-job.ts";
import type { TokenizeRequest, TokenizeResult } from "./tokenize.ts";
import {
  fromWireError,
  type CallArgs,
  type CallMethod,
  type CallResult,
  type FromWorker,
  type ToWorker,
  type WorkerMessage,
} from "./worker-protocol.ts";

export type { EngineStats } from "./model-host.ts";

export interface EngineOptions {
  registry: ModelRegistry;
  /** Loaded models kept at once; the least recently used idle one is unloaded beyond it. */
  maxLoadedModels: number;
  /** ONNX Runtime intra-op threads per session (0 = one per core). */
  intraOpThreads: number;
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** Folder for decoder graphs rewritten at load time; unset: model files are opened as they are. */
  cacheDir?: string;
  /** false: ONNX Runtime keeps matrix weights once instead of beside a pre-packed copy (less memory, slower GEMM). */
  prepackWeights?: boolean;
  /** ONNX Runtime threads spin while a run is in flight (src/runtime/session.ts). */
  spinning?: boolean;
  /** Continuous batching limits; unset fields keep DEFAULT_SCHEDULER_OPTIONS. */
  scheduler?: Partial<SchedulerOptions>;
  /** Where the engine reports a crash of its worker (default: stderr). */
  log?: (line: string) => void;
  /** Told what the engine reports about itself (decode steps, model loads), for logs and metrics. */
  observer?: EngineObserver;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** Completions only: the request's signal, handed to the run once it starts. */
  signal?: AbortSignal;
}

/**
 * Everything the HTTP layer may ask of the models: listing them, generating, embedding and tokenizing with them.
 * Listing is answered here; the rest runs in the engine worker (src/engine/engine-worker.ts), which owns the ONNX
 * sessions, so that a decoding step never blocks HTTP. Engine errors come back as instances of their own classes.
 */
export class Engine {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly runs = new Map<number, RunFeed>();
  /** The HTTP thread's share of a request's garbage (events, JSON) is reclaimed between bursts too. */
  private readonly collector = new IdleCollector();
  private readonly settings: EngineSettings;

  constructor(private readonly options: EngineOptions) {
    this.settings = {
      maxLoadedModels: options.maxLoadedModels,
      session: {
        intraOpThreads: options.intraOpThreads,
        graphOptimizationLevel: options.graphOptimizationLevel,
        cacheDir: options.cacheDir,
        prepackWeights: options.prepackWeights,
        spinning: options.spinning,
      },
      scheduler: { ...DEFAULT_SCHEDULER_OPTIONS, ...options.scheduler },
    };
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
    const run = (await this.send((id) => {
      // Forwarded at once: a request can wait in the worker (model loading, queue) long before it has a run here.
      signal?.addEventListener("abort", () => this.cancel(id), { once: true });
      return { type: "complete", id, request: plain };
    }, signal)) as CompletionRun;
    return request.tools && request.tools.choice.type !== "none" ? withToolCalls(run) : run;
  }

  async createEmbeddings(request: EmbeddingRequest): Promise<EmbeddingResult> {
    this.checkServable(request.model);
    return this.call("createEmbeddings", request);
  }

  async tokenize(request: TokenizeRequest): Promise<TokenizeResult> {
    this.checkServable(request.model);
    return this.call("tokenize", request);
  }

  async detokenize(model: string, tokens: readonly number[]): Promise<string> {
    this.checkServable(model);
    return this.call("detokenize", model, tokens);
  }

  /** What each loaded model's scheduler is doing and has done (for tests, the bench and logs). */
  stats(): Promise<EngineStats> {
    return this.call("stats");
  }

  /** The stats, or undefined while no worker runs: asking never starts one (metrics scrapes). */
  async statsIfRunning(): Promise<EngineStats | undefined> {
    return this.worker ? this.stats() : undefined;
  }

  /** What each loaded model costs in memory; nothing is loaded (and no worker is started) before the first use. */
  async loadedMemory(): Promise<EngineStats["memory"]> {
    return (await this.statsIfRunning())?.memory ?? {};
  }

  /** Unloads every model and stops the worker. */
  async close(): Promise<void> {
    if (!this.worker) return;
    try {
      await this.call("close");
    } finally {
      this.stop(new Error("the engine was closed"));
    }
  }

  private call<M extends CallMethod>(method: M, ...args: CallArgs<M>): Promise<CallResult<M>> {
    return this.send((id) => ({ type: "call", id, method, args })) as Promise<CallResult<M>>;
  }

  private async send(message: (id: number) => ToWorker, signal?: AbortSignal): Promise<unknown> {
    const id = this.nextId++;
    const worker = this.spawn();
    const reply = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject, signal }));
    await this.ready;
    worker.postMessage(message(id));
    return reply;
  }

  /** Started on first use: a server that has not served a model yet holds no second JS heap and no ONNX Runtime. */
  private spawn(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(engineWorkerUrl());
    this.worker = worker;
    this.ready = new Promise<void>((resolve) => {
      worker.onmessage = (event: MessageEvent<FromWorker>) => {
        if (event.data.type === "ready") {
          worker.postMessage({ type: "init", specs: this.listModels(), settings: this.settings } satisfies ToWorker);
          resolve();
        } else for (const message of event.data.messages) this.receive(message);
      };
    });
    let serving = false;
    void this.ready.then(() => (serving = true));
    const crashed = (reason: string) => {
      if (this.worker !== worker) return;
      const inFlight = this.pending.size + this.runs.size;
      this.stop(new EngineCrashError(reason));
      // A worker that died before it was ready is not restarted in a loop: the next request tries again.
      if (serving) this.spawn();
      const log = this.options.log ?? ((line: string) => console.error(line));
      log(
        `[gpt3dev] engine worker stopped unexpectedly (${reason}); ${inFlight} request(s) in flight failed; ` +
          (serving ? "a new engine worker was started, models load again on their next request" : "the next request starts a new one"),
      );
    };
    worker.onerror = (event) => crashed(crashReason(event));
    worker.addEventListener("close", () => crashed("the worker exited"));
    // The HTTP server keeps the process alive; an idle engine alone should not.
    worker.unref();
    return worker;
  }

  /** Fails whatever still waits on this worker; the next request starts a new one. */
  private stop(error: Error): void {
    const worker = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    worker?.terminate();
    for (const waiter of this.pending.values()) waiter.reject(error);
    for (const feed of this.runs.values()) feed.fail(error);
    this.pending.clear();
    this.runs.clear();
  }

  private receive(message: WorkerMessage): void {
    this.handle(message);
    if (this.pending.size === 0 && this.runs.size === 0) this.collector.idle();
    else this.collector.busy();
  }

  private handle(message: WorkerMessage): void {
    if (message.type === "observed") {
      this.options.observer?.(message.event);
      return;
    }
    const id = message.id;
    switch (message.type) {
      case "reply":
      case "rejected":
      case "started": {
        const waiter = this.pending.get(id);
        this.pending.delete(id);
        if (!waiter) return;
        if (message.type === "reply") waiter.resolve(message.value);
        else if (message.type === "rejected") waiter.reject(fromWireError(message.error));
        else {
          // Registered before the rest of this batch is read: its events may follow in the same batch.
          const info = { modelId: message.modelId, systemFingerprint: message.systemFingerprint, promptTokens: message.promptTokens };
          const { run, feed } = createRun(info, () => this.cancel(id), waiter.signal);
          this.runs.set(id, feed);
          waiter.resolve(run);
        }
        return;
      }
      case "events":
        this.runs.get(id)?.events(message.events);
        return;
      case "done":
        this.runs.get(id)?.done(message.completionTokens, message.cachedTokens);
        this.runs.delete(id);
        return;
      case "failed":
        this.runs.get(id)?.fail(fromWireError(message.error));
        this.runs.delete(id);
        return;
    }
  }

  private cancel(id: number): void {
    const live = this.runs.delete(id) || this.pending.has(id);
    if (live) this.worker?.postMessage({ type: "cancel", id } satisfies ToWorker);
  }
}

/** One line naming the error: Bun's message may carry a source excerpt, which belongs in no client's error. */
function crashReason(event: ErrorEvent): string {
  const error: unknown = event.error;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  const lines = (event.message ?? "").split("\n").map((line) => line.trim());
  return lines.find((line) => /^\w*Error\b.*:/.test(line)) ?? lines.find(Boolean) ?? "uncaught error";
}

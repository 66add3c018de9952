import type { EngineWorkerName } from "../runtime/workers.ts";
import { createRun, type RunFeed } from "./completion-run.ts";
import { EngineCrashError } from "./errors.ts";
import type { EngineSettings } from "./model-host.ts";
import type { ModelSpec } from "./registry.ts";
import { fromWireError, type FromWorker, type ToWorker, type WorkerMessage } from "./worker-protocol.ts";

export interface WorkerLinkOptions {
  name: EngineWorkerName;
  url: () => URL;
  /** What the worker is told at start: every model (it refuses the kinds it does not serve) and its settings. */
  init: () => { specs: ModelSpec[]; settings: EngineSettings };
  /** Told every message the worker sends that answers nothing (observed engine events). */
  onMessage: (message: WorkerMessage) => void;
  /** After each message: whether anything still waits on this worker. */
  onActivity: () => void;
  log: (line: string) => void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** Completions only: the request's signal, handed to the run once it starts. */
  signal?: AbortSignal;
}

/**
 * The HTTP thread's end of one engine worker: starts it on first use, matches its replies to requests, feeds
 * completion runs, and when it dies fails what waited on it (EngineCrashError), logs it and starts a new one.
 * The Engine holds one per worker (generation, auxiliary); each fails and respawns alone.
 */
export class WorkerLink {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly runs = new Map<number, RunFeed>();

  constructor(private readonly options: WorkerLinkOptions) {}

  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Requests and runs still waiting on this worker. */
  get inFlight(): number {
    return this.pending.size + this.runs.size;
  }

  /** Sends the message `build(id)` once the worker is ready; resolves with its "reply" (or run, for "started"). */
  async send(build: (id: number) => ToWorker, signal?: AbortSignal): Promise<unknown> {
    const id = this.nextId++;
    const worker = this.spawn();
    const reply = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject, signal }));
    await this.ready;
    worker.postMessage(build(id));
    return reply;
  }

  /** Stops the worker, failing whatever still waits on it with `error`. */
  stop(error: Error): void {
    const worker = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    worker?.terminate();
    for (const waiter of this.pending.values()) waiter.reject(error);
    for (const feed of this.runs.values()) feed.fail(error);
    this.pending.clear();
    this.runs.clear();
  }

  cancel(id: number): void {
    const live = this.runs.delete(id) || this.pending.has(id);
    if (live) this.worker?.postMessage({ type: "cancel", id } satisfies ToWorker);
  }

  /** Started on first use: a server that has not served a model yet holds no second JS heap and no ONNX Runtime. */
  private spawn(): Worker {
    if (this.worker) return this.worker;
    const { name } = this.options;
    const worker = new Worker(this.options.url());
    this.worker = worker;
    this.ready = new Promise<void>((resolve) => {
      worker.onmessage = (event: MessageEvent<FromWorker>) => {
        if (event.data.type === "ready") {
          worker.postMessage({ type: "init", ...this.options.init() } satisfies ToWorker);
          resolve();
        } else {
          for (const message of event.data.messages) this.receive(message);
          this.options.onActivity();
        }
      };
    });
    let serving = false;
    void this.ready.then(() => (serving = true));
    const crashed = (reason: string) => {
      if (this.worker !== worker) return;
      const inFlight = this.inFlight;
      this.stop(new EngineCrashError(reason, name));
      // A worker that died before it was ready is not restarted in a loop: the next request tries again.
      if (serving) this.spawn();
      this.options.log(
        `[gpt3dev] ${name} worker stopped unexpectedly (${reason}); ${inFlight} request(s) in flight failed; ` +
          (serving ? `a new ${name} worker was started, models load again on their next request` : "the next request starts a new one"),
      );
    };
    worker.onerror = (event) => crashed(crashReason(event));
    worker.addEventListener("close", () => crashed("the worker exited"));
    // The HTTP server keeps the process alive; an idle engine alone should not.
    worker.unref();
    return worker;
  }

  private receive(message: WorkerMessage): void {
    if (message.type === "observed") {
      this.options.onMessage(message);
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
}

/** One line naming the error: Bun's message may carry a source excerpt, which belongs in no client's error. */
function crashReason(event: ErrorEvent): string {
  const error: unknown = event.error;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  const lines = (event.message ?? "").split("\n").map((line) => line.trim());
  return lines.find((line) => /^\w*Error\b.*:/.test(line)) ?? lines.find(Boolean) ?? "uncaught error";
}

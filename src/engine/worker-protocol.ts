/**
 * Messages between the HTTP thread's Engine (src/engine/engine.ts, through src/engine/worker-link.ts) and its two
 * workers: the generation worker (src/engine/generation-worker.ts) and the auxiliary worker
 * (src/engine/auxiliary-worker.ts). Everything is plain data (structured clone): no functions, no AbortSignal (a
 * completion request travels without its signal; aborting it sends "cancel"), and errors travel as `WireError`
 * and come back as instances of their own class.
 */
import type { AuxiliaryTask, TaskRequest } from "./auxiliary-tasks.ts";
import type { CompletionEvent } from "./completion-run.ts";
import type { CompletionRequest } from "./completions.ts";
import type { EngineEvent } from "./engine-events.ts";
import * as engineErrors from "./errors.ts";
import type { GenerationHost } from "./generation-host.ts";
import type { EngineSettings } from "./model-host.ts";
import type { ModelSpec } from "./registry.ts";

/**
 * ModelHost methods the HTTP side calls as plain request/reply ("stats", "close", "loadModel" and "unloadModel" on
 * either worker).
 */
export type CallMethod = "tokenize" | "detokenize" | "stats" | "close" | "loadModel" | "unloadModel";
export type CallArgs<M extends CallMethod> = Parameters<GenerationHost[M]>;
export type CallResult<M extends CallMethod> = Awaited<ReturnType<GenerationHost[M]>>;

export type ToWorker =
  | { type: "init"; specs: ModelSpec[]; settings: EngineSettings }
  | { type: "call"; id: number; method: CallMethod; args: unknown[] }
  /** Starts a completion; answered by "started" or "rejected", then its "events" and one "done" or "failed". */
  | { type: "complete"; id: number; request: CompletionRequest }
  | { type: "cancel"; id: number }
  /** Auxiliary worker only: runs one task of src/engine/auxiliary-tasks.ts; answered by "reply" or "rejected". */
  | { type: "task"; id: number; task: AuxiliaryTask; request: TaskRequest<AuxiliaryTask> };

export type WorkerMessage =
  | { type: "reply"; id: number; value: unknown }
  | { type: "rejected"; id: number; error: WireError }
  | { type: "started"; id: number; modelId: string; systemFingerprint: string; promptTokens: number }
  | { type: "events"; id: number; events: CompletionEvent[] }
  | { type: "done"; id: number; completionTokens: number; cachedTokens: number }
  | { type: "failed"; id: number; error: WireError }
  /** Not an answer to anything: what the engine reports about itself (steps, model loads). */
  | { type: "observed"; event: EngineEvent };

/** The worker's messages go out in batches, at most one postMessage per turn of its event loop (one per step). */
export type FromWorker = { type: "ready" } | { type: "batch"; messages: WorkerMessage[] };

export interface WireError {
  /** Export name in src/engine/errors.ts, for the engine's own errors. */
  kind?: string;
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
}

type ErrorClass = abstract new (...args: never[]) => Error;
const ERROR_CLASSES = new Map<string, ErrorClass>(
  (Object.entries(engineErrors) as [string, unknown][]).filter(
    (entry): entry is [string, ErrorClass] => typeof entry[1] === "function" && entry[1].prototype instanceof Error,
  ),
);

export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error), fields: {} };
  const proto = Object.getPrototypeOf(error) as unknown;
  const kind = [...ERROR_CLASSES].find(([, cls]) => cls.prototype === proto)?.[0];
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (value === null || ["string", "number", "boolean", "undefined"].includes(typeof value)) fields[key] = value;
  }
  return { kind, name: error.name, message: error.message, stack: error.stack, fields };
}

/** Rebuilds the error as an instance of its class with the same fields, so src/errors.ts maps it unchanged. */
export function fromWireError(wire: WireError): Error {
  const cls = wire.kind === undefined ? undefined : ERROR_CLASSES.get(wire.kind);
  const error = cls ? (Object.create(cls.prototype) as Error) : new Error(wire.message);
  Object.assign(error, wire.fields);
  const hidden = (value: unknown) => ({ value, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(error, "message", hidden(wire.message));
  if (wire.stack !== undefined) Object.defineProperty(error, "stack", hidden(wire.stack));
  return error;
}

/**
 * The engine worker: a Bun Worker that owns every ONNX session (ModelHost), so that `session.run`, a synchronous
 * native call, never blocks the HTTP thread. It is an entry point of its own in the compiled build (build.ts).
 * Configuration arrives in the "init" message: `process.env` set at run time on the main thread is not visible here.
 */
import type { CompletionRequest } from "./completions.ts";
import { releaseFreeHeap } from "../runtime/heap.ts";
import { IdleCollector } from "./idle-collector.ts";
import { ModelHost } from "./model-host.ts";
import { toWireError, type CallMethod, type FromWorker, type ToWorker, type WorkerMessage } from "./worker-protocol.ts";

declare const self: Worker;

let host: ModelHost | undefined;
/** One per run from "complete" until its "done", "failed" or "rejected": "cancel" aborts it, wherever it is. */
const cancellers = new Map<number, AbortController>();

// After the collection, the C heap's free pages (ONNX Runtime's freed tensors) go back to the system too.
const collector = new IdleCollector(100, () => {
  Bun.gc(true);
  releaseFreeHeap();
});
/** Calls and runs in flight; at zero the collector may reclaim what they left behind. */
let inFlight = 0;
function begin(): void {
  inFlight++;
  collector.busy();
}
function finish(): void {
  if (--inFlight === 0) collector.idle();
}

let outbox: WorkerMessage[] = [];
function send(message: WorkerMessage): void {
  if (outbox.length === 0) queueMicrotask(flush);
  outbox.push(message);
}
function flush(): void {
  const messages = outbox;
  outbox = [];
  self.postMessage({ type: "batch", messages } satisfies FromWorker);
}

function engine(): ModelHost {
  if (!host) throw new Error("engine worker used before init");
  return host;
}

async function call(id: number, method: CallMethod, args: unknown[]): Promise<void> {
  begin();
  try {
    const target = engine() as unknown as Record<CallMethod, (...a: unknown[]) => unknown>;
    send({ type: "reply", id, value: await target[method].apply(engine(), args) });
  } catch (error) {
    send({ type: "rejected", id, error: toWireError(error) });
  } finally {
    finish();
  }
}

async function complete(id: number, request: CompletionRequest): Promise<void> {
  const canceller = new AbortController();
  cancellers.set(id, canceller);
  begin();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    cancellers.delete(id);
    finish();
  };
  // Whatever the run produces before "started" is out waits for it, so the HTTP side always sees "started" first.
  let early: WorkerMessage[] | undefined = [];
  const post = (message: WorkerMessage) => (early ? early.push(message) : send(message));
  try {
    const started = await engine().startCompletion(
      { ...request, signal: canceller.signal },
      {
        events: (events) => post({ type: "events", id, events: [...events] }),
        done: (completionTokens, cachedTokens = 0) => {
          end();
          post({ type: "done", id, completionTokens, cachedTokens });
        },
        fail: (error) => {
          end();
          post({ type: "failed", id, error: toWireError(error) });
        },
      },
    );
    send({ type: "started", id, modelId: started.modelId, systemFingerprint: started.systemFingerprint, promptTokens: started.promptTokens });
    for (const message of early) send(message);
    early = undefined;
  } catch (error) {
    end();
    send({ type: "rejected", id, error: toWireError(error) });
  }
}

function handle(message: ToWorker): void {
  switch (message.type) {
    case "init":
      host = new ModelHost(message.specs, message.settings, (event) => send({ type: "observed", event }));
      return;
    case "call":
      void call(message.id, message.method, message.args);
      return;
    case "complete":
      void complete(message.id, message.request);
      return;
    case "cancel":
      cancellers.get(message.id)?.abort();
      return;
  }
}

self.onmessage = (event: MessageEvent<ToWorker>) => handle(event.data);
self.postMessage({ type: "ready" } satisfies FromWorker);

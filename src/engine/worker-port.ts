/**
 * The worker side of src/engine/worker-protocol.ts, shared by both engine workers (generation-worker.ts and
 * auxiliary-worker.ts): messages out in batches, garbage reclaimed when idle, request/reply calls answered.
 */
import { releaseFreeHeap } from "../runtime/heap.ts";
import { IdleCollector } from "./idle-collector.ts";
import { toWireError, type FromWorker, type ToWorker, type WorkerMessage } from "./worker-protocol.ts";

declare const self: Worker;

// After the collection, the C heap's free pages (ONNX Runtime's freed tensors) go back to the system too.
const collector = new IdleCollector(100, () => {
  Bun.gc(true);
  releaseFreeHeap();
});
/** Calls and runs in flight; at zero the collector may reclaim what they left behind. */
let inFlight = 0;

/** Marks work as started; call `finish` exactly once when it ends. */
export function begin(): void {
  inFlight++;
  collector.busy();
}

export function finish(): void {
  if (--inFlight === 0) collector.idle();
}

let outbox: WorkerMessage[] = [];

/** Queued and sent with everything else this turn of the event loop produces (one postMessage per step). */
export function send(message: WorkerMessage): void {
  if (outbox.length === 0) queueMicrotask(flush);
  outbox.push(message);
}

function flush(): void {
  const messages = outbox;
  outbox = [];
  self.postMessage({ type: "batch", messages } satisfies FromWorker);
}

/** Answers request `id` with what `work` returns ("reply") or throws ("rejected"). */
export async function answer(id: number, work: () => unknown): Promise<void> {
  begin();
  try {
    send({ type: "reply", id, value: await work() });
  } catch (error) {
    send({ type: "rejected", id, error: toWireError(error) });
  } finally {
    finish();
  }
}

/** Hands every message from the Engine to `handle`, then tells the Engine this worker is ready. */
export function serve(handle: (message: ToWorker) => void): void {
  self.onmessage = (event: MessageEvent<ToWorker>) => handle(event.data);
  self.postMessage({ type: "ready" } satisfies FromWorker);
}

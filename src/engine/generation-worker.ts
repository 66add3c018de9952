/**
 * The generation worker: a Bun Worker that owns the text models' ONNX sessions and schedulers (GenerationHost), so
 * that `session.run`, a synchronous native call, never blocks the HTTP thread. Models of other kinds run in the
 * auxiliary worker (src/engine/auxiliary-worker.ts). It is an entry point of its own in the compiled build
 * (build.ts, src/runtime/workers.ts). Configuration arrives in the "init" message: `process.env` set at run time on
 * the main thread is not visible here.
 */
import type { CompletionRequest } from "./completions.ts";
import { GenerationHost } from "./generation-host.ts";
import { answer, begin, finish, send, serve } from "./worker-port.ts";
import { toWireError, type CallMethod, type ToWorker, type WorkerMessage } from "./worker-protocol.ts";

let host: GenerationHost | undefined;
/** One per run from "complete" until its "done", "failed" or "rejected": "cancel" aborts it, wherever it is. */
const cancellers = new Map<number, AbortController>();

function engine(): GenerationHost {
  if (!host) throw new Error("generation worker used before init");
  return host;
}

function call(id: number, method: CallMethod, args: unknown[]): Promise<void> {
  return answer(id, () => {
    const target = engine() as unknown as Record<CallMethod, (...a: unknown[]) => unknown>;
    return target[method].apply(engine(), args);
  });
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

serve((message: ToWorker) => {
  switch (message.type) {
    case "init":
      host = new GenerationHost(message.specs, message.settings, (event) => send({ type: "observed", event }));
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
    case "task":
      send({ type: "rejected", id: message.id, error: toWireError(new Error(`the generation worker runs no ${message.task} task`)) });
      return;
  }
});

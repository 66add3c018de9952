/**
 * The auxiliary worker: a second Bun Worker beside the generation worker, owning every model that does not generate
 * text (embeddings today) in its own ModelHost and model cache. A large request here runs while the generation
 * worker keeps decoding, and a crash here fails only this worker's requests (src/engine/worker-link.ts respawns it).
 * What it can do is the task map in src/engine/auxiliary-tasks.ts. An entry point of its own in the compiled build.
 */
import { setPriority } from "node:os";
import { AUXILIARY_LOADERS, AUXILIARY_TASKS, type AuxiliaryTask, type TaskRequest } from "./auxiliary-tasks.ts";
import { ModelHost } from "./model-host.ts";
import { answer, send, serve } from "./worker-port.ts";
import type { ToWorker } from "./worker-protocol.ts";

let host: ModelHost | undefined;

function models(): ModelHost {
  if (!host) throw new Error("auxiliary worker used before init");
  return host;
}

function runTask<T extends AuxiliaryTask>(task: T, request: TaskRequest<T>): Promise<unknown> {
  const handler = AUXILIARY_TASKS[task] as ((host: ModelHost, request: TaskRequest<T>) => Promise<unknown>) | undefined;
  if (!handler) throw new Error(`the auxiliary worker has no task ${task}`);
  return handler(models(), request);
}

serve((message: ToWorker) => {
  switch (message.type) {
    case "init":
      // Before any session exists: ONNX Runtime's threads, started from this one, take its priority too.
      if (message.settings.nice) setPriority(0, message.settings.nice);
      host = new ModelHost(message.specs, message.settings, AUXILIARY_LOADERS, (event) => send({ type: "observed", event }));
      return;
    case "task":
      void answer(message.id, () => runTask(message.task, message.request));
      return;
    case "call":
      if (message.method === "stats") void answer(message.id, () => models().stats());
      else if (message.method === "close") void answer(message.id, () => models().close());
      else if (message.method === "loadModel") void answer(message.id, () => models().loadModel(String(message.args[0])));
      else if (message.method === "unloadModel") void answer(message.id, () => models().unloadModel(String(message.args[0])));
      else void answer(message.id, () => Promise.reject(new Error(`the auxiliary worker has no ${message.method}`)));
      return;
    case "complete":
      void answer(message.id, () => Promise.reject(new Error("the auxiliary worker runs no completions")));
      return;
    case "cancel":
      return;
  }
});

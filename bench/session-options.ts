// ONNX Runtime session options for the bench's own sessions (raw loop, transformers.js): the same values the server
// sets in src/runtime/session.ts, so every row of the table runs with the same thread and memory settings. Kept as a
// copy on purpose: the bench must still run while the server's runtime code is being rewritten.
import type { InferenceSession } from "onnxruntime-node";

export function serverSessionOptions(threads: number, spinning = false): InferenceSession.SessionOptions {
  return {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    enableMemPattern: false,
    enableCpuMemArena: true,
    // Spinning: ONNX Runtime's own default (threads spin after a run too); off: the server's default.
    extra: spinning ? {} : { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
  };
}

import { ort } from "./onnx.ts";

export type Session = ort.InferenceSession;
export type Tensor = ort.Tensor;

export interface SessionSettings {
  /** Intra-op threads; 0 lets ONNX Runtime pick (one per core). */
  intraOpThreads?: number;
}

/** Opens an ONNX file with options suited to a server: shapes change every step, and idle threads must not spin. */
export async function createSession(path: string, settings: SessionSettings = {}): Promise<Session> {
  return ort.InferenceSession.create(path, {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    intraOpNumThreads: settings.intraOpThreads ?? 0,
    interOpNumThreads: 1,
    enableMemPattern: false,
    extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
  });
}

export function int64Tensor(values: readonly number[], dims: readonly number[]): Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

export function emptyFloatTensor(dims: readonly number[]): Tensor {
  return new ort.Tensor("float32", new Float32Array(0), dims);
}

/**
 * Element types of the floating-point tensors a decoder exchanges with ONNX Runtime. A session says which one each
 * input and output has (fp32 exports: float32; fp16 and q4f16 exports: float16 cache and logits): code that creates
 * or reads such a tensor asks here instead of assuming float32.
 */
import { ort } from "./onnx.ts";
import type { Session, Tensor } from "./session.ts";

export type FloatType = "float32" | "float16";
/** float16 data is held as its bit patterns (what ONNX Runtime's typings take; all-zero bits are +0). */
export type FloatArray = Float32Array | Uint16Array;

export function isFloatType(type: string): type is FloatType {
  return type === "float32" || type === "float16";
}

/** A zero-filled array of `length` elements of `type`. */
export function floatArray(type: FloatType, length: number): FloatArray {
  return type === "float16" ? new Uint16Array(length) : new Float32Array(length);
}

/** A float tensor; float16 data stays Uint16Array bit patterns (see forBinding). */
export function floatTensorOf(type: FloatType, data: FloatArray, dims: readonly number[]): Tensor {
  return forBinding(new ort.Tensor(type, data, dims));
}

export interface TensorInfo {
  type: string;
  /** Numbers for fixed dimensions, names for symbolic ones. */
  shape: ReadonlyArray<number | string>;
}

/** The element type and declared shape of each of a session's tensor inputs and outputs, by name. */
export function tensorInfo(session: Session): { inputs: Map<string, TensorInfo>; outputs: Map<string, TensorInfo> } {
  const read = (metadata: readonly unknown[]) => {
    const infos = new Map<string, TensorInfo>();
    for (const entry of metadata) {
      const m = entry as { name: string; isTensor: boolean; type?: string; shape?: ReadonlyArray<number | string> };
      if (m.isTensor && m.type) infos.set(m.name, { type: m.type, shape: m.shape ?? [] });
    }
    return infos;
  };
  return { inputs: read(session.inputMetadata), outputs: read(session.outputMetadata) };
}

const HALF_TO_FLOAT = (() => {
  const table = new Float32Array(65536);
  const bits = new Uint16Array(1);
  const half = new Float16Array(bits.buffer);
  for (let i = 0; i < 65536; i++) {
    bits[0] = i;
    table[i] = half[0]!;
  }
  return table;
})();

/**
 * Elements `[start, end)` of a float tensor's data as float32: a view for float32 data, a converted copy for float16
 * (as Float16Array, or as the Uint16Array bit patterns some bindings hand out). Callers convert only the rows they
 * sample from, so a float16 prefill never becomes a float32 copy of all its positions.
 */
export function float32Range(data: Tensor["data"] | Float16Array, start: number, end: number): Float32Array {
  if (data instanceof Float32Array) return data.subarray(start, end);
  if (data instanceof Float16Array) return new Float32Array(data.subarray(start, end));
  if (data instanceof Uint16Array) {
    const out = new Float32Array(end - start);
    for (let i = start; i < end; i++) out[i - start] = HALF_TO_FLOAT[data[i]!]!;
    return out;
  }
  throw new Error(`expected float32 or float16 data, got ${data.constructor.name}`);
}

/**
 * onnxruntime-node's binding reads float16 data only from a Uint16Array, while onnxruntime-common stores float16
 * data as Float16Array wherever that exists (Bun has it): fed as is, a float16 tensor reaches the binding as zero
 * bytes ("not enough space: expected N, got 0"). Re-point the tensor at the same bytes as a Uint16Array (what
 * transformers.js does before every run on Node). Costs nothing: no element is copied. The engine applies it to
 * every float16 tensor it creates or receives, so float16 data is always Uint16Array there: code that copies cache
 * positions with `TypedArray.set` then never converts bit patterns as numbers between Float16Array and Uint16Array.
 */
export function forBinding(tensor: Tensor): Tensor {
  const holder = tensor as unknown as { cpuData?: unknown };
  const data = holder.cpuData;
  if (tensor.type === "float16" && data instanceof Float16Array) {
    holder.cpuData = new Uint16Array(data.buffer, data.byteOffset, data.length);
  }
  return tensor;
}

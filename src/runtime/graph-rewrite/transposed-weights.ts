// Weights a rewrite stores transposed: the initializer is written with its two dimensions swapped and its values
// moved accordingly (a [K, N] matrix becomes [N, K]). The values are produced only when the model is written, one
// matrix at a time, so rewriting never holds more than one transposed matrix beside the mapped source.
import { onnx } from "onnx-proto";
import { appendData, type DataFile } from "./external-data.ts";
import { fields } from "./protobuf.ts";

const TENSOR_RAW_DATA = 9;
/** Square tiles the transposition walks in, so that reads and writes both stay within a few cache lines. */
const TILE = 64;

/** The raw data of an initializer (TensorProto body `bytes[body, end)`), or undefined when its values are stored otherwise. */
export function rawData(bytes: Uint8Array, body: number, end: number): Uint8Array | undefined {
  for (const f of fields(bytes, body, end)) if (f.field === TENSOR_RAW_DATA) return bytes.subarray(f.body, f.end);
  return undefined;
}

/**
 * Buffers that the transpositions of one model reuse: its data file is written one value at a time, each before the
 * next is made, so one buffer of the largest matrix serves them all (instead of a new one per matrix, which the
 * garbage collector frees only later: GBs for a large model).
 */
export class TransposeScratch {
  private out = new Uint8Array(0);
  private aligned = new Uint8Array(0);

  /** `length` bytes to write a result into (valid until the next call). */
  output(length: number): Uint8Array {
    if (this.out.length < length) this.out = new Uint8Array(length);
    return this.out.subarray(0, length);
  }

  /** `source` at an offset that is a multiple of `elementBytes`: itself, or a copy (valid until the next call). */
  alignedCopy(source: Uint8Array, elementBytes: number): Uint8Array {
    if (source.byteOffset % elementBytes === 0) return source;
    if (this.aligned.length < source.length) this.aligned = new Uint8Array(source.length);
    const copy = this.aligned.subarray(0, source.length);
    copy.set(source);
    return copy;
  }
}

/**
 * A row-major `rows × columns` matrix of `elementBytes`-byte elements, transposed (`columns × rows`); into `scratch`'s
 * buffer when given (then valid until its next use), else a new one.
 */
export function transposeMatrix(source: Uint8Array, rows: number, columns: number, elementBytes: 2 | 4, scratch?: TransposeScratch): Uint8Array {
  if (source.length !== rows * columns * elementBytes) {
    throw new Error(`transposeMatrix: ${source.length} bytes are not a ${rows} × ${columns} matrix of ${elementBytes}-byte values`);
  }
  // The source may sit at any offset of the file: copied once to be read as whole elements.
  const aligned = scratch ? scratch.alignedCopy(source, elementBytes) : source.byteOffset % elementBytes === 0 ? source : source.slice();
  const out = scratch ? scratch.output(source.length) : new Uint8Array(source.length);
  const count = rows * columns;
  const from = elementBytes === 2 ? new Uint16Array(aligned.buffer, aligned.byteOffset, count) : new Uint32Array(aligned.buffer, aligned.byteOffset, count);
  const to = elementBytes === 2 ? new Uint16Array(out.buffer, out.byteOffset, count) : new Uint32Array(out.buffer, out.byteOffset, count);
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < columns; c0 += TILE) {
      const c1 = Math.min(columns, c0 + TILE);
      for (let r = r0; r < r1; r++) {
        const row = r * columns;
        for (let c = c0; c < c1; c++) to[c * rows + r] = from[row + c]!;
      }
    }
  }
  return out;
}

/**
 * The TensorProto of a 2-D initializer stored transposed: `name`, `dataType`, dims swapped. With `data`, its values
 * go to the data file (transposed when that file is written); without, they are inline.
 */
export function transposedTensor(
  name: string,
  dataType: number,
  dims: readonly [number, number],
  raw: Uint8Array,
  elementBytes: 2 | 4,
  data?: { file: DataFile; scratch: TransposeScratch },
): Uint8Array {
  const [rows, columns] = dims;
  // Into the data file, the matrix is made when the file is written (each chunk written before the next is made).
  const produce = () => transposeMatrix(raw, rows, columns, elementBytes, data?.scratch);
  const tensor: onnx.ITensorProto = { name, dataType, dims: [columns, rows] };
  if (data) {
    const offset = appendData(data.file, raw.length, produce);
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.externalData = [
      { key: "location", value: data.file.name },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(raw.length) },
    ];
  } else {
    tensor.rawData = produce();
  }
  return onnx.TensorProto.encode(tensor).finish();
}

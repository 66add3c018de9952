// Large weights of a rewritten model written to a data file beside it, each at a page-aligned offset. For a model on
// the CPU, ONNX Runtime maps such external initializers into memory instead of reading them: the weights it keeps as
// they are (embedding tables, a tied head declared as a graph input, norms, and every weight with
// `--prepack-weights off`) are then file pages, which two servers on one box share and the kernel can drop, instead
// of each process's own copy. Weights ONNX Runtime pre-packs are copied into packed form either way.
import { fields, lengthDelimited, type Field } from "./protobuf.ts";

const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;
/** ONNX Runtime maps external data only at offsets aligned to the allocation granularity (4 KiB on Linux). */
export const PAGE = 4096;
/** Weights smaller than this stay inside the model file (mapping them would waste most of a page). */
export const EXTERNAL_MIN_BYTES = 64 << 10;

const text = new TextEncoder();

function entry(key: string, value: string): Uint8Array {
  const body = [lengthDelimited(ENTRY_KEY, text.encode(key)), lengthDelimited(ENTRY_VALUE, text.encode(value))];
  return lengthDelimited(TENSOR_EXTERNAL_DATA, concat(body));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bytes to write, or a function that makes them when they are written (one large value at a time in memory). */
export type DataChunk = Uint8Array | (() => Uint8Array);

/** Where the data file stands while weights are appended to it. */
export interface DataFile {
  /** Its name, relative to the model file (what the TensorProtos record as `location`). */
  name: string;
  chunks: DataChunk[];
  length: number;
}

export function dataFile(name: string): DataFile {
  return { name, chunks: [], length: 0 };
}

/** Appends `length` bytes (`chunk`) at the file's next page boundary; returns their offset. */
export function appendData(file: DataFile, length: number, chunk: DataChunk): number {
  const pad = (PAGE - (file.length % PAGE)) % PAGE;
  if (pad > 0) file.chunks.push(new Uint8Array(pad));
  const offset = file.length + pad;
  file.chunks.push(chunk);
  file.length = offset + length;
  return offset;
}

/**
 * An initializer (the TensorProto's body in `bytes`, from `field.body` to `field.end`) with its raw data moved to the
 * data file at the next page boundary; undefined when it has no raw data of at least `minBytes` (kept as is).
 */
export function externalize(bytes: Uint8Array, field: Field, file: DataFile, minBytes = EXTERNAL_MIN_BYTES): Uint8Array | undefined {
  const parts = [...fields(bytes, field.body, field.end)];
  const raw = parts.find((p) => p.field === TENSOR_RAW_DATA);
  if (!raw || raw.end - raw.body < minBytes || parts.some((p) => p.field === TENSOR_DATA_LOCATION)) return undefined;
  const length = raw.end - raw.body;
  const offset = appendData(file, length, bytes.subarray(raw.body, raw.end));
  const kept = parts.filter((p) => p !== raw).map((p) => bytes.subarray(p.start, p.end));
  const location = Uint8Array.of(TENSOR_DATA_LOCATION << 3, 1);
  return concat([...kept, entry("location", file.name), entry("offset", String(offset)), entry("length", String(length)), location]);
}

// A small GGUF (version 3) writer: metadata of the scalar, string and array kinds llama.cpp reads, and tensors as
// F32, F16 or Q8_0 (blocks of 32 values: a float16 scale and 32 int8s). Used by scripts/gguf-from-onnx.ts to give
// llama.cpp the bench model's own weights; never imported by the server.
import { closeSync, openSync, writeSync } from "node:fs";

/** ggml tensor types (ggml.h `enum ggml_type`). */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlTypeName = keyof typeof GgmlType;

/** GGUF metadata value types (gguf.h `enum gguf_type`). */
const T = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 } as const;

export type MetaValue =
  | { u32: number }
  | { i32: number }
  | { f32: number }
  | { bool: boolean }
  | { str: string }
  | { strings: readonly string[] }
  | { i32s: ArrayLike<number> };

export interface GgufTensor {
  name: string;
  /** ggml order: ne[0] is the innermost (contiguous) dimension, e.g. [n_embd, n_vocab] for a [vocab][embd] table. */
  ne: readonly number[];
  type: GgmlTypeName;
  /** Float32 values in row-major order of the reversed `ne` (the last dimension innermost). */
  data: Float32Array;
}

const ALIGNMENT = 32;
const QK8_0 = 32;

class Bytes {
  private chunks: Uint8Array[] = [];
  length = 0;
  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.push(b);
  }
  i32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    this.push(b);
  }
  u64(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.push(b);
  }
  f32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
  }
  u8(v: number): void {
    this.push(Uint8Array.of(v));
  }
  str(s: string): void {
    const utf8 = new TextEncoder().encode(s);
    this.u64(utf8.length);
    this.push(utf8);
  }
  pad(to: number): void {
    const n = (to - (this.length % to)) % to;
    if (n > 0) this.push(new Uint8Array(n));
  }
  concat(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

function writeMeta(out: Bytes, key: string, value: MetaValue): void {
  out.str(key);
  if ("u32" in value) (out.u32(T.UINT32), out.u32(value.u32));
  else if ("i32" in value) (out.u32(T.INT32), out.i32(value.i32));
  else if ("f32" in value) (out.u32(T.FLOAT32), out.f32(value.f32));
  else if ("bool" in value) (out.u32(T.BOOL), out.u8(value.bool ? 1 : 0));
  else if ("str" in value) (out.u32(T.STRING), out.str(value.str));
  else if ("strings" in value) {
    out.u32(T.ARRAY);
    out.u32(T.STRING);
    out.u64(value.strings.length);
    for (const s of value.strings) out.str(s);
  } else {
    out.u32(T.ARRAY);
    out.u32(T.INT32);
    out.u64(value.i32s.length);
    for (let i = 0; i < value.i32s.length; i++) out.i32(value.i32s[i]!);
  }
}

/** The tensor's bytes in its ggml type. */
export function encodeTensor(type: GgmlTypeName, data: Float32Array): Uint8Array {
  if (type === "F32") return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (type === "F16") {
    const half = Float16Array.from(data);
    return new Uint8Array(half.buffer);
  }
  if (data.length % QK8_0 !== 0) throw new Error(`Q8_0 needs a multiple of ${QK8_0} values, got ${data.length}`);
  const blocks = data.length / QK8_0;
  const out = new Uint8Array(blocks * (2 + QK8_0));
  const view = new DataView(out.buffer);
  const scale = new Float16Array(1);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < QK8_0; i++) amax = Math.max(amax, Math.abs(data[b * QK8_0 + i]!));
    const d = amax / 127;
    const id = d > 0 ? 1 / d : 0;
    scale[0] = d;
    const at = b * (2 + QK8_0);
    view.setUint16(at, new Uint16Array(scale.buffer)[0]!, true);
    for (let i = 0; i < QK8_0; i++) {
      const x = data[b * QK8_0 + i]! * id;
      // ggml rounds half away from zero (roundf).
      view.setInt8(at + 2 + i, Math.sign(x) * Math.round(Math.abs(x)));
    }
  }
  return out;
}

/** Writes a GGUF file: header, metadata, tensor infos, then each tensor's data aligned to 32 bytes. */
export function writeGguf(path: string, metadata: ReadonlyArray<[string, MetaValue]>, tensors: readonly GgufTensor[]): number {
  const encoded = tensors.map((t) => {
    const count = t.ne.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`${t.name}: ne ${t.ne.join("x")} holds ${count} values, data has ${t.data.length}`);
    return encodeTensor(t.type, t.data);
  });
  const head = new Bytes();
  head.u32(0x46554747); // "GGUF"
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.length);
  for (const [key, value] of metadata) writeMeta(head, key, value);
  let offset = 0;
  tensors.forEach((t, i) => {
    head.str(t.name);
    head.u32(t.ne.length);
    for (const n of t.ne) head.u64(n);
    head.u32(GgmlType[t.type]);
    head.u64(offset);
    offset += encoded[i]!.length;
    offset += (ALIGNMENT - (offset % ALIGNMENT)) % ALIGNMENT;
  });
  head.pad(ALIGNMENT);
  const fd = openSync(path, "w");
  try {
    let written = writeSync(fd, head.concat());
    for (const bytes of encoded) {
      written += writeSync(fd, bytes);
      const pad = (ALIGNMENT - (bytes.length % ALIGNMENT)) % ALIGNMENT;
      if (pad > 0) written += writeSync(fd, new Uint8Array(pad));
    }
    return written;
  } finally {
    closeSync(fd);
  }
}

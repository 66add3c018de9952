// Just enough of the protobuf wire format to walk an ONNX file's envelope without decoding it: a model's weights stay
// where they are (slices of the mapped file) while the few messages a rewrite changes are decoded and re-encoded with
// onnx-proto. Fields: https://protobuf.dev/programming-guides/encoding/

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

/** One field of a message: its number, wire type, and where its tag, its value and its end are in the buffer. */
export interface Field {
  field: number;
  wire: number;
  /** Offset of the tag. */
  start: number;
  /** Offset of the value (after the length prefix for length-delimited fields). */
  body: number;
  end: number;
}

export class ProtobufError extends Error {}

/** A varint at `pos`: its value (exact up to 2^53) and the offset after it. */
export function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtobufError("truncated varint");
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
  throw new ProtobufError("varint longer than 10 bytes");
}

/** The fields of the message held in `buf[start, end)`, in order. */
export function* fields(buf: Uint8Array, start = 0, end = buf.length): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const [tag, afterTag] = readVarint(buf, pos);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    let body = afterTag;
    let next: number;
    switch (wire) {
      case WIRE_VARINT:
        next = readVarint(buf, afterTag)[1];
        break;
      case WIRE_I64:
        next = afterTag + 8;
        break;
      case WIRE_LEN: {
        const [length, afterLength] = readVarint(buf, afterTag);
        body = afterLength;
        next = afterLength + length;
        break;
      }
      case WIRE_I32:
        next = afterTag + 4;
        break;
      default:
        throw new ProtobufError(`unsupported wire type ${wire} at offset ${pos}`);
    }
    if (field === 0 || next > end) throw new ProtobufError(`malformed field at offset ${pos}`);
    yield { field, wire, start: pos, body, end: next };
    pos = next;
  }
}

export function encodeVarint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** Tag and length of a length-delimited field whose value (`length` bytes) follows. */
export function lengthPrefix(field: number, length: number): Uint8Array {
  const tag = encodeVarint(field * 8 + WIRE_LEN);
  const len = encodeVarint(length);
  const out = new Uint8Array(tag.length + len.length);
  out.set(tag);
  out.set(len, tag.length);
  return out;
}

/** A whole length-delimited field: tag, length and `value`. */
export function lengthDelimited(field: number, value: Uint8Array): Uint8Array {
  const head = lengthPrefix(field, value.length);
  const out = new Uint8Array(head.length + value.length);
  out.set(head);
  out.set(value, head.length);
  return out;
}

export function utf8(buf: Uint8Array, f: Field): string {
  return new TextDecoder().decode(buf.subarray(f.body, f.end));
}

/** Values of a repeated int64 field, packed or not (ONNX dims). */
export function readInts(buf: Uint8Array, f: Field): number[] {
  if (f.wire === WIRE_VARINT) return [readVarint(buf, f.body)[0]];
  const out: number[] = [];
  let pos = f.body;
  while (pos < f.end) {
    const [v, next] = readVarint(buf, pos);
    out.push(v);
    pos = next;
  }
  return out;
}

import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/**
 * Counts the elements of an ONNX graph's initializers (its weights) by walking the protobuf wire format with
 * positioned reads: tensor data is skipped, never read, so a multi-gigabyte graph costs a few reads. Weights kept in
 * external data files are declared in the graph all the same, so they count too.
 * ModelProto.graph = 7, GraphProto.initializer = 5, TensorProto.dims = 1 (int64, packed or not).
 */
export function countInitializerElements(path: string): number {
  const reader = new WireReader(path);
  try {
    let total = 0;
    reader.fields(0, reader.size, (field, wire, start, end) => {
      if (field !== 7 || wire !== 2) return;
      reader.fields(start, end, (graphField, graphWire, tensorStart, tensorEnd) => {
        if (graphField === 5 && graphWire === 2) total += tensorElements(reader, tensorStart, tensorEnd);
      });
    });
    return total;
  } finally {
    reader.close();
  }
}

function tensorElements(reader: WireReader, start: number, end: number): number {
  let elements = 1;
  reader.fields(start, end, (field, wire, from, to, value) => {
    if (field !== 1) return;
    if (wire === 0) elements *= value;
    else if (wire === 2) {
      for (let pos = from; pos < to; ) {
        const [dim, next] = reader.varint(pos);
        elements *= dim;
        pos = next;
      }
    }
  });
  return elements;
}

class WireReader {
  readonly size: number;
  private readonly fd: number;
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(path: string) {
    this.fd = openSync(path, "r");
    this.size = fstatSync(this.fd).size;
  }

  close(): void {
    closeSync(this.fd);
  }

  private byte(pos: number): number {
    if (pos < this.windowStart || pos >= this.windowStart + this.window.length) {
      this.window = Buffer.alloc(Math.min(1 << 16, this.size - pos));
      readSync(this.fd, this.window, 0, this.window.length, pos);
      this.windowStart = pos;
    }
    return this.window[pos - this.windowStart]!;
  }

  /** [value, position after it]. Values above 2^53 lose precision, far beyond any tensor dimension. */
  varint(pos: number): [number, number] {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (pos >= this.size) throw new Error("truncated ONNX file");
      const b = this.byte(pos++);
      value += (b & 0x7f) * scale;
      if (b < 0x80) return [value, pos];
      scale *= 128;
    }
  }

  /** Calls `visit` for each field in [start, end): its number, wire type, payload range and (varint) value. */
  fields(start: number, end: number, visit: (field: number, wire: number, from: number, to: number, value: number) => void): void {
    let pos = start;
    while (pos < end) {
      const [tag, afterTag] = this.varint(pos);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (wire === 0) {
        const [value, next] = this.varint(afterTag);
        visit(field, wire, afterTag, next, value);
        pos = next;
      } else if (wire === 2) {
        const [length, from] = this.varint(afterTag);
        visit(field, wire, from, from + length, length);
        pos = from + length;
      } else if (wire === 1) pos = afterTag + 8;
      else if (wire === 5) pos = afterTag + 4;
      else throw new Error(`not an ONNX file (wire type ${wire} at byte ${pos})`);
    }
  }
}

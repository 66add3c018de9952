import { describe, expect, it } from "bun:test";
import { KvLayout } from "../../src/engine/kv-block.ts";
import { float32Range, floatTensorOf } from "../../src/runtime/tensor-dtype.ts";

/** A block of `rows` rows, `width` positions, every element a distinct value (exact in float16: small integers). */
function block(layout: KvLayout, rows: number, width: number, base: number) {
  const n = rows * layout.kvHeads * width * layout.headDim;
  const values = Float32Array.from({ length: n }, (_, i) => base + i);
  const data = layout.type === "float16" ? new Uint16Array(Float16Array.from(values).buffer) : values;
  const tensors = Object.fromEntries(layout.names.map((name) => [name, floatTensorOf(layout.type, data, [rows, layout.kvHeads, width, layout.headDim])]));
  return { rows, width, tensors };
}

const asNumbers = (data: unknown) => Array.from(float32Range(data as Float32Array, 0, (data as Float32Array).length));

describe("KvLayout", () => {
  for (const type of ["float32", "float16"] as const) {
    it(`packs ${type} rows left-padded, copying bits (never through float32)`, () => {
      const layout = new KvLayout(["past_key_values.0.key"], 2, 3, type);
      const a = block(layout, 2, 4, 0);
      const b = block(layout, 1, 2, 500);
      const packed = layout.pack([
        { kv: a, row: 1, length: 3 },
        { kv: b, row: 0, length: 2 },
        { kv: a, row: 0, length: 0 },
      ]);
      expect([packed.rows, packed.width]).toEqual([3, 3]);
      const tensor = packed.tensors["past_key_values.0.key"]!;
      expect(tensor.type).toBe(type);
      expect(tensor.dims).toEqual([3, 2, 3, 3]);
      // Row 0 = a's row 1, last 3 of 4 positions; row 1 = b's row 0 after one padding position; row 2 all padding.
      const expected: number[] = [];
      for (let h = 0; h < 2; h++) for (let p = 1; p < 4; p++) for (let d = 0; d < 3; d++) expected.push(((1 * 2 + h) * 4 + p) * 3 + d);
      for (let h = 0; h < 2; h++) {
        expected.push(0, 0, 0);
        for (let p = 0; p < 2; p++) for (let d = 0; d < 3; d++) expected.push(500 + (h * 2 + p) * 3 + d);
      }
      expected.push(...new Array<number>(18).fill(0));
      expect(asNumbers(tensor.data)).toEqual(expected);
    });

    it(`creates empty ${type} blocks with the session's shape`, () => {
      const empty = new KvLayout(["a", "b"], 4, 16, type).empty(3);
      expect(empty.width).toBe(0);
      expect(Object.keys(empty.tensors)).toEqual(["a", "b"]);
      expect(empty.tensors.a!.dims).toEqual([3, 4, 0, 16]);
      expect(empty.tensors.a!.type).toBe(type);
    });
  }

  it("converts float16 logits to float32 for the requested range only, from Float16Array or bit patterns", () => {
    const values = Float32Array.from({ length: 64 }, (_, i) => (i - 32) / 8);
    const half = Float16Array.from(values);
    expect(Array.from(float32Range(half, 8, 24))).toEqual(Array.from(values.subarray(8, 24)));
    expect(Array.from(float32Range(new Uint16Array(half.buffer), 8, 24))).toEqual(Array.from(values.subarray(8, 24)));
    expect(float32Range(values, 8, 24).buffer).toBe(values.buffer);
  });
});

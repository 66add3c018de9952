import { describe, expect, it } from "bun:test";
import { clsPool, l2Normalize, lastTokenPool, maxPool, meanPool, meanSqrtLenPool, pool, truncateDimensions, weightedMeanPool, type HiddenStates } from "../../src/engine/pooling.ts";

// Two rows, three positions, width two. Row 1 is padded after its second token: its last position holds values
// (100, -100) that must never reach its vector.
const HIDDEN: HiddenStates = {
  data: Float32Array.from([1, 2, 3, 4, 5, 6, /* row 1 */ -1, 0.5, 3, 1.5, 100, -100]),
  batch: 2,
  seq: 3,
  width: 2,
};
const MASK = [1, 1, 1, 1, 1, 0];

const list = (vectors: Float32Array[]) => vectors.map((v) => Array.from(v));

describe("meanPool", () => {
  it("averages only the positions the attention mask keeps", () => {
    expect(list(meanPool(HIDDEN, MASK))).toEqual([
      [3, 4],
      [1, 1],
    ]);
  });

  it("accepts the int64 mask ONNX Runtime uses", () => {
    expect(list(meanPool(HIDDEN, BigInt64Array.from([1n, 0n, 0n, 1n, 0n, 0n])))).toEqual([
      [1, 2],
      [-1, 0.5],
    ]);
  });

  it("gives a zero vector for a row with no unmasked position", () => {
    expect(list(meanPool(HIDDEN, [0, 0, 0, 1, 1, 1]))).toEqual([
      [0, 0],
      [34, Math.fround(-98 / 3)],
    ]);
  });

  it("refuses a mask of the wrong size", () => {
    expect(() => meanPool(HIDDEN, [1, 1, 1])).toThrow("mask has 3 entries, expected 6");
  });
});

describe("clsPool", () => {
  it("takes the first position of every row and copies it", () => {
    const vectors = clsPool(HIDDEN);
    expect(list(vectors)).toEqual([
      [1, 2],
      [-1, 0.5],
    ]);
    vectors[0]![0] = 42;
    expect(HIDDEN.data[0]).toBe(1);
  });
});

describe("maxPool", () => {
  it("takes each component's largest value over the kept positions only", () => {
    expect(list(maxPool(HIDDEN, MASK))).toEqual([
      [5, 6],
      [3, 1.5],
    ]);
  });

  it("gives a zero vector for a row with no kept position, and refuses a mask of the wrong size", () => {
    expect(list(maxPool(HIDDEN, [0, 0, 0, 1, 0, 0]))).toEqual([
      [0, 0],
      [-1, 0.5],
    ]);
    expect(() => maxPool(HIDDEN, [1])).toThrow("mask has 1 entries, expected 6");
  });
});

describe("lastTokenPool", () => {
  it("takes each row's last kept position, not its last padded one", () => {
    expect(list(lastTokenPool(HIDDEN, MASK))).toEqual([
      [5, 6],
      [3, 1.5],
    ]);
    expect(list(lastTokenPool(HIDDEN, BigInt64Array.from([1n, 0n, 0n, 0n, 0n, 0n])))).toEqual([
      [1, 2],
      [0, 0],
    ]);
  });
});

describe("meanSqrtLenPool and weightedMeanPool", () => {
  it("divide the kept sum by the square root of the count, or weigh position s by s + 1", () => {
    // Row 0 keeps 3 positions: sum (9, 12); row 1 keeps 2: sum (2, 2).
    expect(list(meanSqrtLenPool(HIDDEN, MASK))).toEqual([
      [Math.fround(9 / Math.sqrt(3)), Math.fround(12 / Math.sqrt(3))],
      [Math.fround(2 / Math.SQRT2), Math.fround(2 / Math.SQRT2)],
    ]);
    // Row 0: (1·1 + 2·3 + 3·5) / 6, (1·2 + 2·4 + 3·6) / 6; row 1: (1·-1 + 2·3) / 3, (1·0.5 + 2·1.5) / 3.
    expect(list(weightedMeanPool(HIDDEN, MASK))).toEqual([
      [Math.fround(22 / 6), Math.fround(28 / 6)],
      [Math.fround(5 / 3), Math.fround(3.5 / 3)],
    ]);
    expect(list(weightedMeanPool(HIDDEN, [0, 0, 0, 1, 1, 1]))[0]).toEqual([0, 0]);
  });
});

describe("pool", () => {
  it("dispatches on the mode", () => {
    expect(list(pool("cls", HIDDEN, MASK))).toEqual(list(clsPool(HIDDEN)));
    expect(list(pool("mean", HIDDEN, MASK))).toEqual(list(meanPool(HIDDEN, MASK)));
    expect(list(pool("max", HIDDEN, MASK))).toEqual(list(maxPool(HIDDEN, MASK)));
    expect(list(pool("lasttoken", HIDDEN, MASK))).toEqual(list(lastTokenPool(HIDDEN, MASK)));
    expect(list(pool("mean_sqrt_len", HIDDEN, MASK))).toEqual(list(meanSqrtLenPool(HIDDEN, MASK)));
    expect(list(pool("weightedmean", HIDDEN, MASK))).toEqual(list(weightedMeanPool(HIDDEN, MASK)));
  });
});

describe("l2Normalize", () => {
  it("scales to unit length", () => {
    expect(Array.from(l2Normalize(Float32Array.from([3, 4])))).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(Array.from(l2Normalize(Float32Array.from([0, -2, 0])))).toEqual([0, -1, 0]);
  });

  it("leaves a zero vector at zero instead of NaN", () => {
    expect(Array.from(l2Normalize(new Float32Array(3)))).toEqual([0, 0, 0]);
  });

  it("does not modify its argument", () => {
    const vector = Float32Array.from([3, 4]);
    l2Normalize(vector);
    expect(Array.from(vector)).toEqual([3, 4]);
  });
});

describe("truncateDimensions", () => {
  it("keeps the leading components and renormalises them", () => {
    expect(Array.from(truncateDimensions(Float32Array.from([3, 4, 12]), 2))).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    const unit = l2Normalize(Float32Array.from([3, 4, 12]));
    const [x, y] = truncateDimensions(unit, 2);
    expect(Math.abs(x! - 0.6)).toBeLessThan(1e-7);
    expect(Math.abs(y! - 0.8)).toBeLessThan(1e-7);
    expect(Array.from(truncateDimensions(unit, 1))).toEqual([1]);
    expect(Array.from(truncateDimensions(Float32Array.from([-5, 1]), 1))).toEqual([-1]);
  });

  it("returns the whole vector, normalised, at full width", () => {
    expect(Array.from(truncateDimensions(Float32Array.from([0, 2]), 2))).toEqual([0, 1]);
  });

  it("refuses widths outside 1..length", () => {
    const vector = Float32Array.from([1, 2, 3]);
    for (const bad of [0, 4, 1.5, -1]) expect(() => truncateDimensions(vector, bad)).toThrow(RangeError);
  });
});

// Comparing embedding vectors: their length, and how far apart two of them are.
import { expect } from "bun:test";

type Vector = ArrayLike<number>;

export function norm(v: Vector): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  return Math.sqrt(sum);
}

/** The largest difference between two vectors' components; they must have the same width. */
export function maxDiff(a: Vector, b: Vector): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

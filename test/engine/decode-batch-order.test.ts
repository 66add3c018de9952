// The decode batch's row order when rows leave: rows that stay keep their places where they can, the last rows fill
// the places left, so that a model packing in place copies only what moved.
import { describe, expect, it } from "bun:test";
import { keptInPlace } from "../../src/engine/decode-batch.ts";
import { Prng } from "../../scripts/fixtures/prng.ts";

describe("keptInPlace", () => {
  it("the second of four leaving: the fourth takes its place", () => {
    const rows = ["active", "done", "active", "active"].map((state, i) => ({ state, i }));
    expect(keptInPlace(rows).map(({ c, row }) => [c.i, row])).toEqual([
      [0, 0],
      [3, 3],
      [2, 2],
    ]);
  });

  it("for any rows leaving: every active row once, rows that fit keep their place, the others fill the holes in order", () => {
    const rng = new Prng("kept-in-place");
    for (let trial = 0; trial < 500; trial++) {
      const n = 1 + Math.floor(rng.uniform() * 12);
      const rows = Array.from({ length: n }, (_, i) => ({ state: rng.uniform() < 0.6 ? "active" : "done", i }));
      const kept = keptInPlace(rows);
      const active = rows.filter((r) => r.state === "active");
      expect(kept.map(({ c }) => c.i).sort((a, b) => a - b)).toEqual(active.map((r) => r.i));
      kept.forEach(({ c, row }, slot) => {
        expect(row).toBe(c.i);
        if (row < kept.length) expect(slot).toBe(row);
      });
      const movers = kept.filter(({ row }) => row >= kept.length).map(({ row }) => row);
      expect(movers).toEqual([...movers].sort((a, b) => a - b));
    }
  });
});

// The last-position logits row of the bench, rendered from made-up figures (nothing here is timed).
import { describe, expect, test } from "bun:test";
import { lastPositionTable, type LastPositionResult } from "../bench/last-position-logits.ts";

const RESULT: LastPositionResult = {
  model: "gpt2-vocab",
  vocab: 50257,
  prompts: "420 + 7×1 tokens",
  fullLogitsMiB: 251.53,
  lastOnly: { beforeMiB: 166, peakMiB: 186, texts: ["a", "b"] },
  allPositions: { beforeMiB: 170, peakMiB: 970, texts: ["a", "b"] },
  peakReset: true,
};

describe("last-position logits row", () => {
  test("shows each side's rise, their difference and ratio, and whether both answered the same", () => {
    const table = lastPositionTable(RESULT);
    expect(table).toContain("| last position of each row (num_logits_to_keep) | 166 MiB | 186 MiB | 20 MiB |");
    expect(table).toContain("| every position (`--cache-dir none`) | 170 MiB | 970 MiB | 800 MiB |");
    expect(table).toContain("the peak rises 780 MiB less with last-position logits (40.0× less rise)");
    expect(table).toContain("is 252 MiB. Same answers both ways: yes.");
    expect(table).not.toContain("could not be reset");
  });

  test("says so when the answers differ or the peak mark could not be reset", () => {
    const table = lastPositionTable({ ...RESULT, allPositions: { ...RESULT.allPositions, texts: ["a", "c"] }, peakReset: false });
    expect(table).toContain("Same answers both ways: NO.");
    expect(table).toContain("(The peak mark could not be reset: peaks include the model load.)");
  });
});

import { describe, expect, it } from "bun:test";
import { classifierHead } from "../../src/engine/classifier.ts";
import { keepAliveFor, parseKeepAlive } from "../../src/engine/keep-alive.ts";
import { parseCli } from "../../src/config.ts";
import { MODERATION_CATEGORIES, moderationSettingsOf, probabilities, verdictOf } from "../../src/engine/moderation.ts";
import { MODERATION_CATEGORY_NAMES } from "../../src/openai/moderations.ts";

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe("moderation verdicts", () => {
  it("uses independent sigmoids for multi-label classifiers and one softmax otherwise", () => {
    expect(probabilities([0, 2, -1], true)).toEqual([0.5, sigmoid(2), sigmoid(-1)]);
    const soft = probabilities([1, 2, 3], false);
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
    soft.forEach((p, i) => expect(p).toBeCloseTo(Math.exp(i + 1) / z, 12));
    expect(soft.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it("maps labels named like categories onto them and ignores the others by default", () => {
    const head = { labels: ["hate", "toxic", "violence"], multiLabel: true };
    const verdict = verdictOf([2, 5, -2], head);
    expect(verdict.scores).toEqual({ hate: sigmoid(2), violence: sigmoid(-2) });
    expect(verdict.flags).toEqual({ hate: true, violence: false });
    expect(verdict.flagged).toBe(true);
  });

  it("follows the registry's label map (highest label wins) and per-category thresholds", () => {
    const head = { labels: ["OK", "H", "H2", "V"], multiLabel: false };
    const settings = moderationSettingsOf({ H: "hate", H2: "hate", V: "violence" }, { hate: 0.9, violence: 0.1 }, "test")!;
    const probs = probabilities([0, 1, 2, 0.5], false);
    const verdict = verdictOf([0, 1, 2, 0.5], head, settings);
    expect(verdict.scores).toEqual({ hate: probs[2]!, violence: probs[3]! });
    // hate ≈ 0.52 < 0.9 is not flagged; violence ≈ 0.12 ≥ 0.1 is.
    expect(verdict.flags).toEqual({ hate: false, violence: true });
    expect(verdictOf([0, 1, 2, 0.5], head, moderationSettingsOf({ V: null }, undefined, "t")).scores).toEqual({});
  });

  it("refuses registry settings that name no category, or thresholds outside 0…1", () => {
    expect(() => moderationSettingsOf({ H: "hateful" }, undefined, "entry")).toThrow("categories.H: 'hateful' is not a moderation category");
    expect(() => moderationSettingsOf(undefined, { hate: 1.5 }, "entry")).toThrow("thresholds.hate must be a number from 0 to 1");
    expect(() => moderationSettingsOf(undefined, { spam: 0.5 }, "entry")).toThrow("thresholds.spam: not a moderation category");
    expect(moderationSettingsOf(undefined, undefined, "entry")).toBeUndefined();
  });

  it("knows the same categories as the wire schema", () => {
    expect([...MODERATION_CATEGORIES]).toEqual([...MODERATION_CATEGORY_NAMES]);
  });

  it("reads labels by index from id2label, and multi-label from problem_type", () => {
    expect(classifierHead({ id2label: { 1: "b", 0: "a" }, problem_type: "multi_label_classification" })).toEqual({ labels: ["a", "b"], multiLabel: true });
    expect(classifierHead({ id2label: { 0: "a" } }).multiLabel).toBe(false);
    expect(() => classifierHead({})).toThrow("id2label");
  });
});

describe("keep-alive durations", () => {
  it("reads seconds and Ollama-style durations; negative means for ever", () => {
    expect(parseKeepAlive(30)).toBe(30_000);
    expect(parseKeepAlive(0)).toBe(0);
    expect(parseKeepAlive(0.25)).toBe(250);
    expect(parseKeepAlive("5m")).toBe(300_000);
    expect(parseKeepAlive("1h30m")).toBe(5_400_000);
    expect(parseKeepAlive("500ms")).toBe(500);
    expect(parseKeepAlive("90")).toBe(90_000);
    expect(parseKeepAlive(-1)).toBeNull();
    expect(parseKeepAlive("-1m")).toBeNull();
    for (const bad of ["5 minutes", "m5", "", "1d", true]) expect(() => parseKeepAlive(bad)).toThrow("keep-alive");
  });

  it("takes --keep-alive as the default, which a registry entry's keep_alive overrides (negative: never)", () => {
    const config = (argv: string[]) => {
      const cli = parseCli(argv, {});
      if (cli.kind !== "run") throw new Error("expected a run configuration");
      return cli.config;
    };
    expect(config(["--keep-alive", "5m"]).keepAliveMs).toBe(300_000);
    expect(config([]).keepAliveMs).toBeUndefined();
    expect(config(["--keep-alive=-1"]).keepAliveMs).toBeUndefined();
    expect(() => config(["--keep-alive", "soon"])).toThrow("--keep-alive");
    expect(keepAliveFor(undefined, 300_000)).toBe(300_000);
    expect(keepAliveFor(2_000, 300_000)).toBe(2_000);
    expect(keepAliveFor(null, 300_000)).toBeUndefined();
    expect(keepAliveFor(undefined, undefined)).toBeUndefined();
  });
});

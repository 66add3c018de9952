import { afterAll, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { makeModels } from "../../scripts/make-models.ts";
import { ModerationModel } from "../../src/engine/classifier.ts";
import { MODERATION_CATEGORIES, verdictOf } from "../../src/engine/moderation.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import { BINARY_PATH, REPO_ROOT, type ServerMode } from "./harness.ts";
import { describeEachMode, errorOf } from "./suite.ts";

const TEXTS = ["the quick brown fox", "hello world"];
const OUT = mkdtempSync(join(tmpdir(), "gpt3dev-moderation-"));
makeModels({ outDir: OUT, ids: ["tiny-moderation-codes"], log: () => {} });
// A classifier coded as published ones are (OK, H, S, V, SH): the registry maps its labels and sets thresholds.
const REGISTRY = join(OUT, "registry.yaml");
const CODES = { H: "hate", S: "sexual", V: "violence", SH: "self-harm" } as const;
const THRESHOLDS = { hate: 0.05, sexual: 0.99 } as const;
writeFileSync(
  REGISTRY,
  "models:\n  - name: coded-moderation\n" +
    `    path: ${join(OUT, "tiny-moderation-codes")}\n    kind: moderation\n` +
    `    categories: {${Object.entries(CODES).map(([k, v]) => `${k}: ${v}`).join(", ")}}\n` +
    `    thresholds: {${Object.entries(THRESHOLDS).map(([k, v]) => `${k}: ${v}`).join(", ")}}\n`,
);
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

/** The scores the engine computes in-process for the same files and settings: what the server must answer. */
async function expected(dir: string, id: string, registryPath?: string) {
  const spec = new ModelRegistry({ modelsDir: dir, registryPath }).get(id)!;
  const model = await ModerationModel.load(spec, { intraOpThreads: 1 });
  try {
    return (await model.logits(TEXTS)).map((row) => verdictOf(row, model.head, spec.moderation));
  } finally {
    await model.release();
  }
}

describeEachMode(
  "POST /v1/moderations",
  (ctx, mode) => {
    const post = (body: unknown) => ctx().post("/v1/moderations", body);
    const demoDir = (m: ServerMode) => join(m === "binary" ? dirname(BINARY_PATH) : REPO_ROOT, "models");

    it("answers OpenAI's shape with every category, the demo classifier's scores and flags at 0.5", async () => {
      const response = await ctx().client.moderations.create({ model: "tiny-moderation", input: TEXTS });
      expect(response.id).toMatch(/^modr-/);
      expect(response.model).toBe("tiny-moderation");
      const want = await expected(demoDir(mode), "tiny-moderation");
      expect(response.results).toHaveLength(2);
      response.results.forEach((result, i) => {
        expect(Object.keys(result.categories)).toEqual([...MODERATION_CATEGORIES]);
        expect(Object.keys(result.category_scores)).toEqual([...MODERATION_CATEGORIES]);
        for (const category of MODERATION_CATEGORIES) {
          const score = want[i]!.scores[category];
          expect(result.category_scores[category]).toBe(score ?? 0);
          expect(result.categories[category]).toBe(score !== undefined && score >= 0.5);
          expect(result.category_applied_input_types[category]).toEqual(score === undefined ? [] : ["text"]);
        }
        expect(result.flagged).toBe(Object.values(result.categories).some(Boolean));
      });
      // The label 'toxic' is not a moderation category: it is ignored; the five others are scored.
      expect(Object.keys(want[0]!.scores).sort()).toEqual(["harassment", "hate", "self-harm", "sexual", "violence"]);
    });

    it("takes one string, and multi-modal text items as one input; the first moderation model serves without 'model'", async () => {
      const one = await ctx().client.moderations.create({ input: TEXTS[0]! });
      expect(one.model).toBe("coded-moderation");
      const many = await ctx().client.moderations.create({ model: "tiny-moderation", input: TEXTS[0]! });
      const items = await ctx().client.moderations.create({
        model: "tiny-moderation",
        input: [{ type: "text", text: "the quick" }, { type: "text", text: "brown fox" }],
      });
      expect(items.results).toHaveLength(1);
      expect(many.results[0]!.category_scores).toEqual((await ctx().client.moderations.create({ model: "tiny-moderation", input: [TEXTS[0]!] })).results[0]!.category_scores);
      const joined = await ctx().client.moderations.create({ model: "tiny-moderation", input: "the quick\nbrown fox" });
      expect(items.results[0]!.category_scores).toEqual(joined.results[0]!.category_scores);
    });

    it("maps a coded classifier's labels through the registry, with its thresholds (softmax over exclusive labels)", async () => {
      const response = await ctx().client.moderations.create({ model: "coded-moderation", input: TEXTS });
      const want = await expected(OUT, "coded-moderation", REGISTRY);
      response.results.forEach((result, i) => {
        for (const category of MODERATION_CATEGORIES) {
          const score = want[i]!.scores[category];
          expect(result.category_scores[category]).toBe(score ?? 0);
          const threshold = (THRESHOLDS as Record<string, number>)[category] ?? 0.5;
          expect(result.categories[category]).toBe(score !== undefined && score >= threshold);
        }
      });
      // Softmax: the mapped scores and the unmapped OK label share one distribution, so they sum to less than 1.
      const sum = Object.values(response.results[0]!.category_scores).reduce((a, b) => a + b, 0);
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThan(1);
      expect(response.results[0]!.categories.hate).toBe(true);
      expect(response.results[0]!.categories.sexual).toBe(false);
    });

    it("refuses images, other kinds of model and bad input in OpenAI's envelope naming the field", async () => {
      const cases: Array<[unknown, number, string, string | null]> = [
        [{ model: "tiny-moderation", input: [{ type: "text", text: "a" }, { type: "image_url", image_url: { url: "data:," } }] }, 400, "input[1]", "unsupported_content_type"],
        [{ model: "tiny-llama", input: "a" }, 400, "model", "model_not_supported"],
        [{ model: "nope", input: "a" }, 404, "model", "model_not_found"],
        [{ model: "tiny-moderation", input: [] }, 400, "input", "invalid_value"],
        [{ model: "tiny-moderation", input: "a", extra: 1 }, 400, "extra", "unknown_parameter"],
        [{ model: "tiny-moderation", input: Array.from({ length: 65 }, () => "a") }, 400, "input", "limit_exceeded"],
      ];
      for (const [body, status, param, code] of cases) {
        const response = await post(body);
        expect(response.status).toBe(status);
        const error = await errorOf(response);
        expect([error.param, error.code]).toEqual([param, code]);
      }
    });
  },
  { args: ["--registry", REGISTRY] },
);

import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { env, pipeline } from "@huggingface/transformers";
import { makeModels } from "../../scripts/make-models.ts";
import { ModerationModel } from "../../src/engine/classifier.ts";
import { probabilities } from "../../src/engine/moderation.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";

env.allowRemoteModels = false;
env.allowLocalModels = true;

const OUT = mkdtempSync(join(tmpdir(), "gpt3dev-classifiers-"));
makeModels({ outDir: OUT, ids: ["tiny-moderation", "tiny-moderation-codes"], log: () => {} });
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const TEXTS = ["the quick brown fox", "hello world", "", "the the the"];
// Longer than the fixtures' 64 positions. gpt3dev cuts it as Hugging Face's Python tokenizers do, keeping [SEP]:
// the first 62 words (one token each here) between [CLS] and [SEP]. transformers.js cuts [SEP] off instead, so it is
// compared on the text already cut to those 62 words.
const LONG = "a b c ".repeat(80).trim();
const LONG_CUT = LONG.split(" ").slice(0, 62).join(" ");

interface Scored {
  label: string;
  score: number;
}

describe("moderation classifiers against transformers.js's text-classification pipeline", () => {
  for (const id of ["tiny-moderation", "tiny-moderation-codes"]) {
    for (const dtype of ["fp32", "q8"]) {
      it(`${id} (${dtype}): the same label probabilities for every text, batched`, async () => {
        const spec = { ...new ModelRegistry({ modelsDir: OUT }).get(id)!, dtype };
        expect(spec.kind).toBe("moderation");
        const model = await ModerationModel.load(spec, { intraOpThreads: 1 });
        const classify = await pipeline("text-classification", join(OUT, id), { local_files_only: true, dtype } as never);
        try {
          const ours = (await model.logits([...TEXTS, LONG])).map((row) => probabilities(row, model.head.multiLabel));
          const reference = (await classify([...TEXTS, LONG_CUT], { top_k: null } as never)) as unknown as Scored[][];
          let worst = 0;
          reference.forEach((_, i) => {
            const byLabel = new Map(reference[i]!.map((s) => [s.label, s.score]));
            model.head.labels.forEach((label, j) => (worst = Math.max(worst, Math.abs(ours[i]![j]! - byLabel.get(label)!))));
          });
          expect(worst).toBeLessThan(1e-6);
          // The fixture's scores are spread out, so the comparison means something.
          const scores = ours.flat();
          expect(Math.max(...scores) - Math.min(...scores)).toBeGreaterThan(0.2);
        } finally {
          await model.release();
          await classify.dispose();
        }
      });
    }
  }
});

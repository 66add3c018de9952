import { describe, expect, it } from "bun:test";
import type { TokenDecoder } from "../../src/engine/detokenizer.ts";
import { GenerationError } from "../../src/engine/errors.ts";
import { toOpenAIError } from "../../src/errors.ts";
import { FakeModel, letters } from "./fake-model.ts";
import { alone, FAKE_MODEL_ID, prompt, scheduler, submit, type Outcome, type Request } from "./scheduler-harness.ts";

/** No prompt() id reaches 39 and generated ids never start a row, so only the poisoned request's rows start with it. */
const MARK = 39;
const poisoned = (row: readonly number[]) => row[0] === MARK;

/** Three healthy requests, the poisoned one, and one more that waits for a place (the batch holds 3). */
function traffic(bad: Request): Request[] {
  return [
    { prompts: [prompt(3)], params: { maxTokens: 20 } },
    bad,
    { prompts: [prompt(6, 4)], params: { maxTokens: 8, sampling: { temperature: 0.9, topP: 0.95, seed: 7 } } },
    { prompts: [prompt(2, 8)], n: 2, params: { maxTokens: 5, sampling: { temperature: 1.2, topP: 1, seed: 3 } } },
  ];
}

const BAD_GREEDY: Request = { prompts: [[MARK, ...prompt(4, 5)]], params: { maxTokens: 10 } };
const BAD_SAMPLED: Request = {
  prompts: [[MARK, ...prompt(4, 5)]],
  n: 2,
  params: { maxTokens: 10, sampling: { temperature: 1, topP: 0.9, seed: 11 } },
};

interface Case {
  name: string;
  bad: Request;
  model(): FakeModel;
  tokenizer?: TokenDecoder;
  cause: string;
  /** Tokens the poisoned request got before it failed, over all its choices. */
  before: number;
}

const CASES: Case[] = [
  {
    name: "its first token's logits are NaN",
    bad: BAD_GREEDY,
    model: () => Object.assign(new FakeModel(), { nanFor: poisoned }),
    cause: "cannot sample: every logit is -Infinity or NaN",
    before: 0,
  },
  {
    name: "its logits turn NaN after three tokens",
    bad: BAD_SAMPLED,
    model: () => Object.assign(new FakeModel(), { nanFor: (row: readonly number[]) => poisoned(row) && row.length >= 5 + 3 }),
    cause: "cannot sample: every logit is -Infinity or NaN",
    before: 2 * 3,
  },
  {
    name: "its text cannot be detokenized",
    bad: BAD_GREEDY,
    model: () => new FakeModel(),
    tokenizer: {
      decode(ids) {
        // The poisoned prompt starts with MARK, 5; the other requests never produce that pair.
        if (ids.some((id, i) => id === MARK && ids[i + 1] === 5)) throw new Error("cannot decode these ids");
        return letters.decode(ids);
      },
    },
    cause: "cannot decode these ids",
    before: 0,
  },
  {
    name: "its cache cannot be packed into the batch",
    bad: BAD_SAMPLED,
    model: () => Object.assign(new FakeModel(), { unpackable: poisoned }),
    cause: "cannot pack this row",
    before: 2 * 1,
  },
];

describe("Scheduler failure isolation", () => {
  for (const c of CASES) {
    it(`fails only the request whose ${c.name.replace(/^its /, "")}, frees its place, and the others decode their exact ids`, async () => {
      const { model, scheduler: s } = scheduler({ maxBatch: 3 }, c.model(), c.tokenizer);
      const requests = traffic(c.bad);
      const finished: number[] = [];
      const seen = { tokens: 0 };
      const runs = requests.map((r, i) =>
        submit(s, r, (events) => {
          if (i === 1) seen.tokens += events.filter((e) => e.kind === "text").length;
        }).then(
          (out) => (finished.push(i), out),
          (error: unknown) => (finished.push(i), error),
        ),
      );
      const [first, failure, third, fourth] = await Promise.all(runs);

      expect(failure).toBeInstanceOf(GenerationError);
      const error = failure as GenerationError;
      expect([error.modelId, error.reason]).toEqual([FAKE_MODEL_ID, c.cause]);
      expect(seen.tokens).toBe(c.before);
      const mapped = toOpenAIError(error);
      expect([mapped.status, mapped.code]).toEqual([500, "generation_failed"]);
      expect(mapped.message).toContain(`'${FAKE_MODEL_ID}'`);
      expect(mapped.message).toContain(c.cause);

      for (const [i, out] of [first, , third, fourth].entries()) {
        if (!out) continue;
        const single = await alone(requests[i]!);
        expect((out as Outcome).ids).toEqual(single.ids);
        expect((out as Outcome).finish).toEqual(single.finish);
      }
      // The waiting request took the failed one's place long before the 20-token request ended.
      expect(finished.indexOf(3)).toBeLessThan(finished.indexOf(0));
      expect(Math.max(...model.decodes().map((d) => d.rows))).toBe(3);
      expect(s.stats()).toMatchObject({ rows: 0, queued: 0, prefilling: 0, failed: 1 });
      // Every place is free again: a full batch of new requests runs at once.
      const after = await Promise.all([0, 1, 2].map((k) => submit(s, { prompts: [prompt(2, k + 2)], params: { maxTokens: 2 } })));
      expect(after.map((o) => o.finish)).toEqual([["length"], ["length"], ["length"]]);
    });
  }

  it("fails the requests of a failed model run with the model's name, and keeps serving", async () => {
    const { model, scheduler: s } = scheduler();
    model.failNextDecode = true;
    const error = await submit(s, { prompts: [prompt(3)] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GenerationError);
    expect(error).toMatchObject({ modelId: FAKE_MODEL_ID, reason: "decode failed" });
    expect((await submit(s, { prompts: [prompt(3)] })).ids).toEqual((await alone({ prompts: [prompt(3)] })).ids);
  });
});

import { describe, expect, it } from "bun:test";
import type { ChoiceEvent } from "../../src/engine/generation-job.ts";
import type { TokenLogprob } from "../../src/engine/token-logprobs.ts";
import { FakeModel, idsOf, VOCAB } from "./fake-model.ts";
import { prompt, scheduler, submit, type Request } from "./scheduler-harness.ts";

const reference = new FakeModel();

/** The fake model's next-token log-softmax after `ids`, computed directly in float64. */
async function logSoftmax(ids: number[]): Promise<number[]> {
  const { logits } = await reference.prefill(ids, reference.emptyKv());
  const row = Array.from(logits.subarray(0, VOCAB));
  const max = Math.max(...row.filter((x) => x > -Infinity));
  const lse = max + Math.log(row.reduce((s, x) => s + (x > -Infinity ? Math.exp(x - max) : 0), 0));
  return row.map((x) => x - lse);
}

function logprobsOf(events: readonly ChoiceEvent[], index: number, prompt: boolean): TokenLogprob[] {
  return events.flatMap((e) => (e.kind === "text" && e.index === index && (e.prompt === true) === prompt ? (e.logprobs ?? []) : []));
}

async function expectMatches(token: TokenLogprob, context: number[], top: number): Promise<void> {
  const expected = await logSoftmax(context);
  expect(Math.abs(token.logprob! - expected[token.id]!)).toBeLessThan(1e-9);
  const ranked = [...expected.keys()].filter((i) => expected[i]! > -Infinity).sort((a, b) => expected[b]! - expected[a]! || a - b);
  expect(token.top!.map((t) => t.id)).toEqual(ranked.slice(0, top));
  token.top!.forEach((t) => expect(Math.abs(t.logprob - expected[t.id]!)).toBeLessThan(1e-9));
}

const OTHERS: Request[] = [
  { prompts: [prompt(6, 3)], n: 2, params: { maxTokens: 7, sampling: { temperature: 1, topP: 0.9, seed: 5 } } },
  { prompts: [prompt(9, 1)], params: { maxTokens: 5 } },
];

describe("Scheduler logprobs", () => {
  for (const batched of [false, true]) {
    it(`reports each generated token's raw log-softmax with its top alternatives (${batched ? "batched" : "alone"})`, async () => {
      const { scheduler: s } = scheduler({ maxBatch: batched ? 8 : 1 });
      const request: Request = {
        prompts: [prompt(5, 2)],
        n: 2,
        params: { maxTokens: 6, logprobs: 3, sampling: { temperature: 1.1, topP: 1, seed: 17, presencePenalty: 1.5 } },
      };
      const [outcome] = await Promise.all([submit(s, request), ...(batched ? OTHERS.map((r) => submit(s, r)) : [])]);
      for (const index of [0, 1]) {
        const tokens = logprobsOf(outcome!.events, index, false);
        expect(tokens.map((t) => t.id)).toEqual(outcome!.ids[index]!);
        for (const [i, token] of tokens.entries()) await expectMatches(token, [...prompt(5, 2), ...outcome!.ids[index]!.slice(0, i)], 3);
      }
      expect(outcome!.ids[0]).not.toEqual(outcome!.ids[1]);
    });

    it(`scores every prompt token across prefill chunks for echo, max_tokens 0 generating nothing (${batched ? "batched" : "alone"})`, async () => {
      const { scheduler: s, model } = scheduler({ maxBatch: batched ? 8 : 1, prefillChunk: 4 });
      const ids = prompt(11, 4);
      const scored: Request = { prompts: [ids], n: 2, params: { maxTokens: 0, echo: true, logprobs: 2 } };
      const [outcome, ...rest] = await Promise.all([submit(s, scored), ...(batched ? OTHERS.map((r) => submit(s, r)) : [])]);
      for (const index of [0, 1]) {
        const tokens = logprobsOf(outcome!.events, index, true);
        expect(tokens.map((t) => t.id)).toEqual(ids);
        expect(tokens[0]!.logprob).toBeNull();
        expect(tokens[0]!.top).toBeNull();
        for (let i = 1; i < ids.length; i++) await expectMatches(tokens[i]!, ids.slice(0, i), 2);
      }
      expect(outcome!.finish).toEqual(["length", "length"]);
      expect(outcome!.tokens).toBe(0);
      expect(outcome!.ids).toEqual([[], []]);
      // the scored prompt ran alone, in chunks of at most 4 tokens, and the other requests were not disturbed
      expect(model.calls.filter((c) => c.op === "prefill" && c.tokens > 4 && c.rows === 1)).toEqual([]);
      if (batched) for (const [i, r] of OTHERS.entries()) expect(rest[i]!.ids).toEqual((await submit(scheduler({ maxBatch: 1 }).scheduler, r)).ids);
    });
  }

  it("echo without logprobs shows the prompt only, then the generated text with its logprobs when asked", async () => {
    const { scheduler: s } = scheduler();
    const ids = prompt(4, 6);
    const plain = await submit(s, { prompts: [ids], params: { maxTokens: 3, echo: true } });
    expect(plain.events.filter((e) => e.kind === "text" && e.prompt)).toHaveLength(1);
    expect(plain.events.some((e) => e.kind === "text" && e.logprobs)).toBe(false);
    const mixed = await submit(s, { prompts: [ids], params: { maxTokens: 3, echo: true, logprobs: 0 } });
    expect(mixed.ids).toEqual(plain.ids);
    const generated = logprobsOf(mixed.events, 0, false);
    expect(generated.map((t) => t.id)).toEqual(mixed.ids[0]!);
    expect(generated.every((t) => t.top!.length === 0)).toBe(true);
    expect(idsOf(mixed.events.filter((e) => e.kind === "text" && !e.prompt).map((e) => (e.kind === "text" ? e.text : "")).join(""))).toEqual(mixed.ids[0]!);
  });
});

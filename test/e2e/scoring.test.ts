import { afterAll, beforeAll, expect, it } from "bun:test";
import { join } from "node:path";
import { AutoModelForCausalLM, env, Tensor, type PreTrainedModel } from "@huggingface/transformers";
import { encode } from "gpt-tokenizer/encoding/r50k_base";
import { REPO_ROOT } from "./harness.ts";
import { describeEachMode, jsonOf } from "./suite.ts";

// What lm-eval's `local-completions` sends for a loglikelihood request, checked against transformers.js running the
// same model on the same tokens.
env.allowRemoteModels = false;
env.allowLocalModels = true;

const CONTEXT = "The capital of France is";
const CONTINUATIONS = [" Paris", " a city of light and rain"];

interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}
interface ScoredCompletion {
  choices: { index: number; text: string; logprobs: LegacyLogprobs; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number };
}

let model: PreTrainedModel;
beforeAll(async () => {
  model = await AutoModelForCausalLM.from_pretrained(join(REPO_ROOT, "models", "gpt2-vocab"), { dtype: "fp32", local_files_only: true });
});
afterAll(async () => {
  await model?.dispose();
});

interface ReferenceRow {
  logprob(id: number): number;
  best: number;
}

const references = new Map<string, Promise<ReferenceRow[]>>();

/** transformers.js' next-token log-softmax after each position of `ids` (float64 arithmetic), computed once per prompt. */
function referenceLogprobs(ids: number[]): Promise<ReferenceRow[]> {
  const key = ids.join(",");
  let rows = references.get(key);
  if (!rows) {
    rows = computeReference(ids);
    references.set(key, rows);
  }
  return rows;
}

async function computeReference(ids: number[]): Promise<ReferenceRow[]> {
  const n = ids.length;
  const { logits } = (await model({
    input_ids: new Tensor("int64", BigInt64Array.from(ids, BigInt), [1, n]),
    attention_mask: new Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]),
  })) as { logits: Tensor };
  const data = logits.data as Float32Array;
  const vocab = data.length / n;
  return Array.from({ length: n }, (_, i) => {
    const row = data.subarray(i * vocab, (i + 1) * vocab);
    let max = -Infinity;
    for (const x of row) if (x > max) max = x;
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    const lse = max + Math.log(sum);
    return { logprob: (id: number) => row[id]! - lse, best: max - lse };
  });
}

describeEachMode("lm-eval loglikelihood requests", (ctx) => {
  it("echo + max_tokens 0 + logprobs 1 scores every prompt token as transformers.js does", async () => {
    const prompts = CONTINUATIONS.map((c) => encode(CONTEXT + c));
    const response = await ctx().post("/v1/completions", {
      model: "gpt2-vocab",
      prompt: prompts,
      max_tokens: 0,
      temperature: 0,
      logprobs: 1,
      echo: true,
      seed: 1234,
    });
    expect(response.status).toBe(200);
    const body = await jsonOf<ScoredCompletion>(response);
    expect(body.usage.completion_tokens).toBe(0);
    expect(body.choices).toHaveLength(2);
    for (const [i, ids] of prompts.entries()) {
      const choice = body.choices[i]!;
      expect(choice.finish_reason).toBe("length");
      expect(choice.text).toBe(CONTEXT + CONTINUATIONS[i]);
      const { tokens, token_logprobs, top_logprobs, text_offset } = choice.logprobs;
      expect(tokens.join("")).toBe(choice.text);
      expect(tokens).toHaveLength(ids.length);
      expect(token_logprobs[0]).toBeNull();
      expect(top_logprobs[0]).toBeNull();
      expect(text_offset[0]).toBe(0);
      const reference = await referenceLogprobs(ids);
      for (let t = 1; t < ids.length; t++) {
        const row = reference[t - 1]!;
        expect(Math.abs(token_logprobs[t]! - row.logprob(ids[t]!))).toBeLessThan(1e-4);
        // logprobs: 1 → the most likely token, plus the prompt's own token when it is not that one
        const top = top_logprobs[t]!;
        expect(Object.keys(top).length).toBe(row.logprob(ids[t]!) === row.best ? 1 : 2);
        expect(Math.abs(Math.max(...Object.values(top)) - row.best)).toBeLessThan(1e-4);
        expect(text_offset[t]).toBe(text_offset[t - 1]! + tokens[t - 1]!.length);
      }
    }
  });

  it("max_tokens 1 (what lm-eval sends) gives the same prompt logprobs plus one generated token", async () => {
    const ids = encode(CONTEXT + CONTINUATIONS[0]);
    const request = { model: "gpt2-vocab", prompt: ids, temperature: 0, logprobs: 1, echo: true };
    const scored = await jsonOf<ScoredCompletion>(await ctx().post("/v1/completions", { ...request, max_tokens: 0 }));
    const one = await jsonOf<ScoredCompletion>(await ctx().post("/v1/completions", { ...request, max_tokens: 1 }));
    const a = scored.choices[0]!.logprobs;
    const b = one.choices[0]!.logprobs;
    expect(b.tokens).toHaveLength(ids.length + 1);
    expect(b.token_logprobs[0]).toBeNull();
    // a repeated prompt may reuse the cached prefix of the first, which moves the last float32 bits
    b.token_logprobs.slice(1, ids.length).forEach((v, i) => expect(Math.abs(v! - a.token_logprobs[i + 1]!)).toBeLessThan(1e-5));
    expect(b.tokens.slice(0, ids.length)).toEqual(a.tokens);
    // lm-eval's is_greedy: the generated token of a greedy request is the top entry
    const last = b.top_logprobs.at(-1)!;
    expect(Math.max(...Object.values(last))).toBe(b.token_logprobs.at(-1)!);
    expect(one.usage.completion_tokens).toBe(1);
  });

  it("refuses max_tokens 0 without echo, naming max_tokens", async () => {
    const response = await ctx().post("/v1/completions", { model: "gpt2-vocab", prompt: "x", max_tokens: 0 });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { param: string } }).error.param).toBe("max_tokens");
  });
});

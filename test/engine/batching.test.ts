// Continuous batching on the generated ONNX models: a request's output is the same alone (batch of 1) and inside a
// batch of 8 mixed requests, to the token id, with GQA and position_ids (tiny-llama) as with GPT-2 (tiny-gpt2).
import { afterAll, describe, expect, it } from "bun:test";
import { join, resolve } from "node:path";
import { createRun } from "../../src/engine/completion-run.ts";
import type { CompletionRequest } from "../../src/engine/completions.ts";
import { Decoder } from "../../src/engine/decoder.ts";
import { GenerationHost } from "../../src/engine/generation-host.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import type { SchedulerOptions } from "../../src/engine/generation-job.ts";
import { Scheduler } from "../../src/engine/scheduler.ts";
import type { SequenceParams } from "../../src/engine/sequence.ts";
import { idsOf, letters } from "./fake-model.ts";

const MODELS_DIR = resolve(import.meta.dir, "../../models");
const decoders: Decoder[] = [];
const hosts: GenerationHost[] = [];
afterAll(async () => {
  await Promise.all([...decoders.map((d) => d.release()), ...hosts.map((h) => h.close())]);
});

interface Job {
  prompt: number[];
  n: number;
  params: SequenceParams;
}

const greedy = (maxTokens: number): SequenceParams => ({ maxTokens, stop: [], sampling: { temperature: 0, topP: 1 } });
const seeded = (maxTokens: number, seed: bigint, temperature = 0.9, topP = 1): SequenceParams => ({
  maxTokens,
  stop: [],
  sampling: { temperature, topP, seed },
});
const ids = (length: number, from: number) => Array.from({ length }, (_, i) => (from + i * 37) % 600);

/** Eight sequences of different prompt lengths (one longer than a prefill chunk), budgets and sampling settings. */
const JOBS: Job[] = [
  { prompt: ids(5, 10), n: 1, params: greedy(30) },
  { prompt: ids(40, 3), n: 1, params: greedy(12) },
  { prompt: ids(1, 77), n: 1, params: seeded(25, 42n) },
  { prompt: ids(9, 500), n: 2, params: seeded(18, 7n, 1.1, 0.8) },
  { prompt: ids(17, 200), n: 1, params: seeded(35, 1234n, 0.7, 0.95) },
  { prompt: ids(3, 321), n: 1, params: greedy(8) },
  { prompt: ids(12, 99), n: 1, params: seeded(20, 5n, 1.5) },
];

/** Generated ids per choice; the tokenizer writes one character per id, so the text gives the ids back exactly. */
function generate(scheduler: Scheduler<any>, job: Job): Promise<number[][]> {
  return new Promise((resolve, reject) => {
    const out: number[][] = Array.from({ length: job.n }, () => []);
    const choices = Array.from({ length: job.n }, (_, j) => ({
      prompt: 0,
      params: { ...job.params, sampling: { ...job.params.sampling, seed: BigInt(job.params.sampling.seed ?? 0) + BigInt(j) } },
    }));
    scheduler.submit({
      prompts: [job.prompt],
      choices,
      sink: {
        events: (events) => events.forEach((e) => e.kind === "text" && out[e.index]!.push(...idsOf(e.text))),
        done: () => resolve(out),
        fail: reject,
      },
    });
  });
}

describe("batched decoding on the generated models", () => {
  for (const id of ["tiny-gpt2", "tiny-llama"]) {
    it(`${id}: every sequence gets the same token ids alone and in a batch of 8`, async () => {
      const dir = join(MODELS_DIR, id);
      const config = readDecoderConfig(dir);
      const decoder = await Decoder.open(dir, "model.onnx", config, { intraOpThreads: 1 });
      decoders.push(decoder);
      expect(decoder.supportsPadding).toBe(true);
      const eos = new Set(config.eosIds);
      const make = (options: Partial<SchedulerOptions>) =>
        new Scheduler(decoder, letters, eos, { maxBatch: 8, maxQueue: 64, prefillChunk: 16, ...options });

      const alone: number[][][] = [];
      for (const job of JOBS) alone.push(await generate(make({ maxBatch: 1 }), job));
      const batched = make({ maxBatch: 8 });
      const together = await Promise.all(JOBS.map((job) => generate(batched, job)));

      expect(together).toEqual(alone);
      expect(batched.stats().peakRows).toBe(8);
      expect(batched.stats().packs).toBeGreaterThan(2);
      // Greedy sequences run to their budget here (no EOS), so the comparison covers every step.
      expect(alone[0]![0]).toHaveLength(30);
      expect(new Set(alone[0]![0]).size).toBeGreaterThan(5);
    });
  }
});

async function complete(host: GenerationHost, request: CompletionRequest) {
  let feed: ReturnType<typeof createRun>["feed"] | undefined;
  const started = await host.startCompletion(request, {
    events: (events) => feed!.events(events),
    done: (tokens) => feed!.done(tokens),
    fail: (error) => feed!.fail(error),
  });
  const made = createRun(started, started.cancel);
  feed = made.feed;
  const texts: string[] = [];
  const finish: string[] = [];
  for await (const e of made.run.events()) {
    if (e.kind === "text") texts[e.index] = (texts[e.index] ?? "") + e.text;
    else if (e.kind === "finish") finish[e.index] = e.reason;
  }
  return { texts, finish, usage: [made.run.promptTokens, made.run.completionTokens] };
}

describe("GenerationHost", () => {
  const registry = new ModelRegistry({ modelsDir: MODELS_DIR });
  const host = (maxBatch: number) => {
    const made = new GenerationHost(registry.list(), {
      maxLoadedModels: 2,
      session: { intraOpThreads: 1 },
      scheduler: { maxBatch, maxQueue: 64, prefillChunk: 8 },
    });
    hosts.push(made);
    return made;
  };
  const base = { n: 1, temperature: 0, topP: 1, stop: [] as string[] };
  const REQUESTS: CompletionRequest[] = [
    { ...base, model: "tiny-llama", prompts: ["The quick brown fox"], maxTokens: 24 },
    { ...base, model: "tiny-llama", prompts: ["Once upon a time"], n: 3, temperature: 1, seed: 11n, maxTokens: 16 },
    { ...base, model: "tiny-llama", messages: [{ role: "user", content: "Tell me a story about a river." }], maxTokens: 20 },
    { ...base, model: "tiny-llama", prompts: ["same prompt", "other", "same prompt"], temperature: 0.8, seed: 3n, maxTokens: 10 },
    { ...base, model: "tiny-llama", prompts: ["Stop here"], stop: ["e", "a"], maxTokens: 30 },
    { ...base, model: "tiny-llama", prompts: [""], topP: 0.5, temperature: 1, seed: 9n, maxTokens: 12 },
  ];

  it("gives every request of a busy batch the text, finish reasons and usage it gets alone", async () => {
    const single = host(1);
    const alone = [];
    for (const request of REQUESTS) alone.push(await complete(single, request));
    const busy = host(8);
    const together = await Promise.all(REQUESTS.map((request) => complete(busy, request)));
    expect(together).toEqual(alone);
    expect(busy.stats().models["tiny-llama"]).toMatchObject({ peakRows: 8, rows: 0, queued: 0 });
    expect(alone[1]!.texts).toHaveLength(3);
    expect(new Set(alone[1]!.texts).size).toBe(3);
    expect(alone[4]!.finish).toEqual(["stop"]);
  });

  it("keeps a model's batch within its registry max_batch", async () => {
    const specs = registry.list().map((spec) => (spec.id === "tiny-llama" ? { ...spec, maxBatch: 2 } : spec));
    const capped = new GenerationHost(specs, {
      maxLoadedModels: 2,
      session: { intraOpThreads: 1 },
      scheduler: { maxBatch: 8, maxQueue: 64, prefillChunk: 8 },
    });
    hosts.push(capped);
    await Promise.all(REQUESTS.map((request) => complete(capped, request)));
    expect(capped.stats().models["tiny-llama"]).toMatchObject({ peakRows: 2, rows: 0, queued: 0 });
  });

  it("prefills a prompt once for its n choices and for its repeats within a request", async () => {
    const fresh = host(8);
    const repeated = await complete(fresh, REQUESTS[3]!);
    const [promptTokens] = repeated.usage as [number, number];
    const stats = () => fresh.stats().models["tiny-llama"]!;
    const once = stats().prefillTokens;
    expect(once).toBeLessThan(promptTokens);
    const n3 = await complete(fresh, REQUESTS[1]!);
    expect(stats().prefillTokens - once).toBe(n3.usage[0]!);
  });
});

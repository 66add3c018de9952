import { afterAll, describe, expect, it } from "bun:test";
import { resolve } from "node:path";
import { Engine } from "../../src/engine/engine.ts";
import {
  ChatTemplateMissingError,
  ContextLengthError,
  EngineCrashError,
  GenerationError,
  InvalidInputError,
  ModelKindError,
  ModelLoadError,
  ModelNotFoundError,
  QueueFullError,
} from "../../src/engine/errors.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import { fromWireError, toWireError } from "../../src/engine/worker-protocol.ts";
import { toOpenAIError } from "../../src/errors.ts";

/** What a postMessage round trip does to a value. */
const acrossThreads = <T>(value: T): T => structuredClone(value);

describe("engine errors across the worker boundary", () => {
  const errors: Error[] = [
    new ModelNotFoundError("nope"),
    new ModelKindError("tiny-bert", "embeddings", "text-generation"),
    new ModelLoadError("broken", "invalid protobuf"),
    new ContextLengthError(128, 120, 20, "messages"),
    new InvalidInputError("token id 99999 is outside the vocabulary", "prompts[1]"),
    new ChatTemplateMissingError("tiny-gpt2"),
    new QueueFullError(64, 1),
    new GenerationError("tiny-gpt2", "cannot sample: every logit is -Infinity or NaN"),
    new EngineCrashError("TypeError: boom"),
  ];

  for (const error of errors) {
    it(`${error.name} comes back as itself, with its fields and the same OpenAI envelope`, () => {
      const revived = fromWireError(acrossThreads(toWireError(error)));
      expect(revived).toBeInstanceOf(error.constructor as new (...args: never[]) => Error);
      expect(revived.message).toBe(error.message);
      expect({ ...revived }).toEqual({ ...error });
      const [mapped, original] = [toOpenAIError(revived), toOpenAIError(error)];
      expect(mapped.toBody()).toEqual(original.toBody());
      expect([mapped.status, mapped.headers]).toEqual([original.status, original.headers]);
    });
  }

  it("turns any other failure into a plain Error that keeps its message and stack", () => {
    const failure = new TypeError("boom");
    const revived = fromWireError(acrossThreads(toWireError(failure)));
    expect(revived.constructor).toBe(Error);
    expect(revived.message).toBe("boom");
    expect(revived.stack).toBe(failure.stack!);
    expect(fromWireError(toWireError("a string")).message).toBe("a string");
    expect(toOpenAIError(revived).status).toBe(500);
  });
});

describe("Engine (client of the engine worker)", () => {
  const engine = new Engine({
    registry: new ModelRegistry({ modelsDir: resolve(import.meta.dir, "../../models") }),
    maxLoadedModels: 2,
    intraOpThreads: 1,
  });
  afterAll(() => engine.close());
  const base = { n: 1, temperature: 0, topP: 1, stop: [] };

  it("rejects with the engine's own error classes", async () => {
    const missing = await engine.createCompletion({ ...base, model: "nope", prompts: ["x"] }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ModelNotFoundError);
    const long = await engine.createCompletion({ ...base, model: "tiny-gpt2", prompts: ["x"], maxTokens: 500 }).catch((e: unknown) => e);
    expect(long).toBeInstanceOf(ContextLengthError);
    expect(long).toMatchObject({ limit: 128, completionTokens: 500 });
    const kind = await engine.createEmbeddings({ model: "tiny-gpt2", inputs: ["x"] }).catch((e: unknown) => e);
    expect(kind).toBeInstanceOf(ModelKindError);
  });

  it("streams a completion, embeds and tokenizes through the worker, and reports scheduler stats", async () => {
    const run = await engine.createCompletion({ ...base, model: "tiny-llama", prompts: ["Hello"], n: 2, maxTokens: 5 });
    const finished: number[] = [];
    for await (const event of run.events()) if (event.kind === "finish") finished.push(event.index);
    expect(finished.sort()).toEqual([0, 1]);
    expect(run.completionTokens).toBe(10);
    const embedded = await engine.createEmbeddings({ model: "tiny-bert", inputs: ["a", "b"] });
    expect(embedded.vectors).toHaveLength(2);
    expect(embedded.vectors[0]).toBeInstanceOf(Float32Array);
    expect((await engine.tokenize({ model: "tiny-llama", prompt: "Hello", addSpecialTokens: false })).tokens.length).toBeGreaterThan(0);
    const stats = await engine.stats();
    // Each worker has its own cache of 2: tiny-gpt2 (loaded by the first test) stays beside tiny-llama.
    expect(stats.loaded.sort()).toEqual(["tiny-bert", "tiny-gpt2", "tiny-llama"]);
    expect(stats.models["tiny-llama"]).toMatchObject({ rows: 0, queued: 0, generatedTokens: 10, peakRows: 2 });
  });
});

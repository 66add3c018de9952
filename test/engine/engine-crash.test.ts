import { afterAll, describe, expect, it } from "bun:test";
import { resolve } from "node:path";
import { Engine } from "../../src/engine/engine.ts";
import { EngineCrashError } from "../../src/engine/errors.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import { toOpenAIError } from "../../src/errors.ts";

type Run = Awaited<ReturnType<Engine["createCompletion"]>>;

/**
 * An engine on the repository's fixture models, closed after the tests, with its log lines and its workers (to make
 * them fail as a crash in native code or an uncaught error would).
 */
function crashableEngine() {
  const lines: string[] = [];
  const engine = new Engine({
    registry: new ModelRegistry({ modelsDir: resolve(import.meta.dir, "../../models") }),
    maxLoadedModels: 2,
    intraOpThreads: 1,
    log: (line) => lines.push(line),
  });
  afterAll(() => engine.close());
  const links = engine as unknown as { generation: { worker: Worker }; auxiliary: { worker: Worker } };
  return { engine, lines, links };
}

async function textOf(run: Run): Promise<string> {
  let text = "";
  for await (const e of run.events()) if (e.kind === "text") text += e.text;
  return text;
}

/** Reads the rest of a run's events; resolves to the error that ends them. */
function failureOf(events: ReturnType<Run["events"]>): Promise<unknown> {
  return (async () => {
    for await (const _ of { [Symbol.asyncIterator]: () => events }) {
      // drain
    }
  })().catch((e: unknown) => e);
}

describe("Engine when its worker crashes", () => {
  const { engine, lines, links } = crashableEngine();
  const request = { model: "tiny-gpt2", prompts: ["Hello"], n: 1, temperature: 0, topP: 1, stop: [] };
  const worker = () => links.generation.worker;

  it("fails the requests in flight with a clear error, logs it, and serves the next request from a new worker", async () => {
    const text = await textOf(await engine.createCompletion({ ...request, maxTokens: 8 }));

    const run = await engine.createCompletion({ ...request, maxTokens: 100 });
    const events = run.events();
    await events.next();
    const first = worker();
    // A message the worker cannot read throws in its message handler: an uncaught error that ends the worker.
    first.postMessage(null);
    const failure = await failureOf(events);
    expect(failure).toBeInstanceOf(EngineCrashError);
    const mapped = toOpenAIError(failure);
    expect([mapped.status, mapped.code]).toEqual([503, "engine_restarted"]);
    expect(mapped.message).toContain("Retry the request");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[gpt3dev\] generation worker stopped unexpectedly \(TypeError: null is not an object.*\); 1 request\(s\) in flight failed; a new generation worker was started/);
    expect(worker()).toBeDefined();
    expect(worker()).not.toBe(first);

    expect(await textOf(await engine.createCompletion({ ...request, maxTokens: 8 }))).toBe(text);
    expect(text.length).toBeGreaterThan(0);
  }, 30_000);
});

describe("Engine when one of its two workers crashes", () => {
  const { engine, lines, links } = crashableEngine();
  const request = { model: "tiny-gpt2", prompts: ["Hello"], n: 1, temperature: 0, topP: 1, stop: [], maxTokens: 100 };
  const inputs = Array.from({ length: 64 }, (_, i) => `input number ${i} about rivers and ${i % 7} stones`);

  it("keeps streaming through a crash of the auxiliary worker, which fails only the embeddings in flight", async () => {
    const expected = await textOf(await engine.createCompletion(request));
    const vectors = (await engine.createEmbeddings({ model: "tiny-bert", inputs })).vectors;

    const run = await engine.createCompletion(request);
    const events = run.events();
    const first = await events.next();
    const embedding = engine.createEmbeddings({ model: "tiny-bert", inputs }).catch((e: unknown) => e);
    const auxiliary = links.auxiliary.worker;
    const generation = links.generation.worker;
    auxiliary.postMessage(null);
    const failure = await embedding;
    expect(failure).toBeInstanceOf(EngineCrashError);
    expect((failure as Error).message).toStartWith("the auxiliary worker stopped unexpectedly: TypeError");
    let text = first.done || first.value.kind !== "text" ? "" : first.value.text;
    for await (const e of { [Symbol.asyncIterator]: () => events }) if (e.kind === "text") text += e.text;
    expect(text).toBe(expected);
    expect(links.generation.worker).toBe(generation);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[gpt3dev\] auxiliary worker stopped unexpectedly \(TypeError.*\); 1 request\(s\) in flight failed; a new auxiliary worker was started/);
    expect(links.auxiliary.worker).not.toBe(auxiliary);
    expect((await engine.createEmbeddings({ model: "tiny-bert", inputs })).vectors).toEqual(vectors);
  }, 60_000);

  it("answers embeddings in flight through a crash of the generation worker", async () => {
    lines.length = 0;
    const vectors = (await engine.createEmbeddings({ model: "tiny-bert", inputs })).vectors;
    const run = await engine.createCompletion(request);
    const events = run.events();
    await events.next();
    const auxiliary = links.auxiliary.worker;
    const embedding = engine.createEmbeddings({ model: "tiny-bert", inputs });
    links.generation.worker.postMessage(null);
    const failure = await failureOf(events);
    expect(failure).toBeInstanceOf(EngineCrashError);
    expect((await embedding).vectors).toEqual(vectors);
    expect(links.auxiliary.worker).toBe(auxiliary);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith("[gpt3dev] generation worker stopped unexpectedly");
    expect((await textOf(await engine.createCompletion({ ...request, maxTokens: 8 }))).length).toBeGreaterThan(0);
  }, 60_000);
});

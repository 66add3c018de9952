import { afterAll, describe, expect, it } from "bun:test";
import { resolve } from "node:path";
import { Engine } from "../../src/engine/engine.ts";
import { EngineCrashError } from "../../src/engine/errors.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import { toOpenAIError } from "../../src/errors.ts";

describe("Engine when its worker crashes", () => {
  const lines: string[] = [];
  const engine = new Engine({
    registry: new ModelRegistry({ modelsDir: resolve(import.meta.dir, "../../models") }),
    maxLoadedModels: 2,
    intraOpThreads: 1,
    log: (line) => lines.push(line),
  });
  afterAll(() => engine.close());
  const request = { model: "tiny-gpt2", prompts: ["Hello"], n: 1, temperature: 0, topP: 1, stop: [] };
  /** The worker itself, to make it fail as a crash in native code or an uncaught error would. */
  const worker = () => (engine as unknown as { worker: Worker }).worker;

  it("fails the requests in flight with a clear error, logs it, and serves the next request from a new worker", async () => {
    const expected = await engine.createCompletion({ ...request, maxTokens: 8 });
    let text = "";
    for await (const e of expected.events()) if (e.kind === "text") text += e.text;

    const run = await engine.createCompletion({ ...request, maxTokens: 100 });
    const events = run.events();
    await events.next();
    const first = worker();
    // A message the worker cannot read throws in its message handler: an uncaught error that ends the worker.
    first.postMessage(null);
    const failure = await (async () => {
      for await (const _ of { [Symbol.asyncIterator]: () => events }) {
        // drain
      }
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(EngineCrashError);
    const mapped = toOpenAIError(failure);
    expect([mapped.status, mapped.code]).toEqual([503, "engine_restarted"]);
    expect(mapped.message).toContain("Retry the request");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[gpt3dev\] engine worker stopped unexpectedly \(TypeError: null is not an object.*\); 1 request\(s\) in flight failed; a new engine worker was started/);
    expect(worker()).toBeDefined();
    expect(worker()).not.toBe(first);

    const again = await engine.createCompletion({ ...request, maxTokens: 8 });
    let after = "";
    for await (const e of again.events()) if (e.kind === "text") after += e.text;
    expect(after).toBe(text);
    expect(text.length).toBeGreaterThan(0);
  }, 30_000);
});

import { afterAll, describe, expect, it } from "bun:test";
import { Engine } from "../../src/engine/engine.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import { MODELS_DIR } from "../http/app.ts";

// The server-wide default (--keep-alive) applies in both workers: a text model (generation worker) and a
// moderation model (auxiliary worker) are unloaded once idle that long.
const engine = new Engine({ registry: new ModelRegistry({ modelsDir: MODELS_DIR }), maxLoadedModels: 4, intraOpThreads: 1, keepAliveMs: 1_000 });
afterAll(() => engine.close());

describe("Engine keep-alive and load/unload", () => {
  it("loads models into the worker serving their kind and unloads them after the default keep-alive", async () => {
    expect(await engine.unloadModel("tiny-gpt2")).toBe(false);
    await Promise.all([engine.loadModel("tiny-gpt2"), engine.loadModel("tiny-moderation")]);
    const loadedAt = performance.now();
    const loaded = Object.keys(await engine.loadedMemory()).sort();
    expect(loaded).toEqual(["tiny-gpt2", "tiny-moderation"]);
    let left = loaded;
    while (left.length > 0 && performance.now() - loadedAt < 10_000) {
      await Bun.sleep(25);
      left = Object.keys(await engine.loadedMemory());
    }
    expect(left).toEqual([]);
  });
});

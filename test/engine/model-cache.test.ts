import { describe, expect, it } from "bun:test";
import { ModelCache } from "../../src/engine/model-cache.ts";

class FakeModel {
  released = 0;
  constructor(readonly id: string) {}
  release() {
    this.released++;
  }
}

function trackingLoader(fail: Set<string> = new Set()) {
  const calls: string[] = [];
  const models = new Map<string, FakeModel>();
  const load = async (id: string) => {
    calls.push(id);
    await Bun.sleep(5);
    if (fail.has(id)) throw new Error(`broken ${id}`);
    const model = new FakeModel(id);
    models.set(id, model);
    return model;
  };
  return { calls, models, load };
}

describe("ModelCache", () => {
  it("shares one load between concurrent first requests", async () => {
    const { calls, load } = trackingLoader();
    const cache = new ModelCache(load, 2);
    const leases = await Promise.all([cache.acquire("a"), cache.acquire("a"), cache.acquire("a")]);
    expect(calls).toEqual(["a"]);
    expect(leases[0]?.model).toBe(leases[2]!.model);
  });

  it("forgets a failed load so the next request retries it", async () => {
    const fail = new Set(["a"]);
    const { calls, load } = trackingLoader(fail);
    const cache = new ModelCache(load, 2);
    const results = await Promise.allSettled([cache.acquire("a"), cache.acquire("a")]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(calls).toEqual(["a"]);
    expect(cache.loadedIds()).toEqual([]);
    fail.delete("a");
    const lease = await cache.acquire("a");
    expect(lease.model.id).toBe("a");
    expect(calls).toEqual(["a", "a"]);
  });

  it("unloads the least recently used idle model beyond the cap", async () => {
    const { models, load } = trackingLoader();
    const cache = new ModelCache(load, 2);
    (await cache.acquire("a")).done();
    (await cache.acquire("b")).done();
    (await cache.acquire("a")).done();
    (await cache.acquire("c")).done();
    expect(cache.loadedIds().sort()).toEqual(["a", "c"]);
    expect(models.get("b")?.released).toBe(1);
    expect(models.get("a")?.released).toBe(0);
  });

  it("never unloads a model that is in use, and unloads it once idle", async () => {
    const { models, load } = trackingLoader();
    const cache = new ModelCache(load, 1);
    const busy = await cache.acquire("a");
    const other = await cache.acquire("b");
    expect(models.get("a")?.released).toBe(0);
    expect(cache.loadedIds().sort()).toEqual(["a", "b"]);
    busy.done();
    busy.done();
    expect(models.get("a")?.released).toBe(1);
    expect(cache.loadedIds()).toEqual(["b"]);
    other.done();
    expect(models.get("b")?.released).toBe(0);
  });

  it("releases every model on unloadAll", async () => {
    const { models, load } = trackingLoader();
    const cache = new ModelCache(load, 3);
    (await cache.acquire("a")).done();
    (await cache.acquire("b")).done();
    await cache.unloadAll();
    expect([...models.values()].map((m) => m.released)).toEqual([1, 1]);
    expect(cache.loadedIds()).toEqual([]);
  });
});

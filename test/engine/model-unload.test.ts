import { describe, expect, it } from "bun:test";
import { ModelCache } from "../../src/engine/model-cache.ts";

class FakeModel {
  released = 0;
  constructor(readonly id: string, readonly generation: number) {}
  release() {
    this.released++;
  }
}

function loader() {
  const loaded: FakeModel[] = [];
  const load = async (id: string) => {
    await Bun.sleep(5);
    const model = new FakeModel(id, loaded.length);
    loaded.push(model);
    return model;
  };
  return { loaded, load };
}

describe("ModelCache unload and keep-alive", () => {
  it("unloads an idle model on request, and says when there was nothing to unload", async () => {
    const { loaded, load } = loader();
    const cache = new ModelCache(load, 4);
    expect(await cache.unload("a")).toBe(false);
    (await cache.acquire("a")).done();
    expect(await cache.unload("a")).toBe(true);
    expect(loaded[0]!.released).toBe(1);
    expect(cache.loadedIds()).toEqual([]);
    expect(await cache.unload("a")).toBe(false);
  });

  it("lets requests holding the model finish before releasing it; new requests wait, then load it again", async () => {
    const { loaded, load } = loader();
    const cache = new ModelCache(load, 4);
    const first = await cache.acquire("a");
    let unloaded = false;
    const unloading = cache.unload("a").then((ok) => (unloaded = ok));
    let secondModel: FakeModel | undefined;
    const second = cache.acquire("a").then((lease) => {
      secondModel = lease.model;
      return lease;
    });
    await Bun.sleep(30);
    expect(unloaded).toBe(false);
    expect(first.model.released).toBe(0);
    expect(secondModel).toBeUndefined();
    first.done();
    await unloading;
    expect(unloaded).toBe(true);
    expect(first.model.released).toBe(1);
    const lease = await second;
    expect(lease.model).toBe(loaded[1]!);
    expect(lease.model.generation).toBe(1);
    expect(lease.model.released).toBe(0);
    lease.done();
  });

  it("unloads a model left idle for its keep-alive time, and not one used again before", async () => {
    const { loaded, load } = loader();
    const cache = new ModelCache(load, 4, { keepAliveMs: (id) => (id === "short" ? 40 : undefined) });
    const first = await cache.acquire("short");
    (await cache.acquire("forever")).done();
    // Released and taken again in the same turn: the timer the release started is stopped at once.
    first.done();
    const again = cache.acquire("short");
    const held = await again;
    await Bun.sleep(120);
    // Held: no timer runs while a request uses it.
    expect(loaded[0]!.released).toBe(0);
    held.done();
    for (let waited = 0; loaded[0]!.released === 0 && waited < 5_000; waited += 10) await Bun.sleep(10);
    expect(loaded[0]!.released).toBe(1);
    expect(cache.loadedIds()).toEqual(["forever"]);
    expect(loaded[1]!.released).toBe(0);
  });

  it("keeps a model loaded by load-and-release for its keep-alive time only", async () => {
    const { loaded, load } = loader();
    const cache = new ModelCache(load, 4, { keepAliveMs: () => 0 });
    (await cache.acquire("a")).done();
    await Bun.sleep(20);
    expect(loaded[0]!.released).toBe(1);
  });
});

import { describe, expect, it } from "bun:test";
import { IdleCollector } from "../../src/engine/idle-collector.ts";

describe("IdleCollector", () => {
  it("collects once after the engine stays idle, and not while work keeps arriving", async () => {
    let collections = 0;
    const collector = new IdleCollector(20, () => collections++);
    collector.idle();
    collector.busy();
    await Bun.sleep(40);
    expect(collections).toBe(0);
    collector.idle();
    collector.idle();
    await Bun.sleep(40);
    expect(collections).toBe(1);
    await Bun.sleep(40);
    expect(collections).toBe(1);
  });
});

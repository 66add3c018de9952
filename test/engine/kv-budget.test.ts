import { describe, expect, it } from "bun:test";
import { KvBudget, parseMemorySize } from "../../src/engine/kv-budget.ts";
import { FakeModel } from "./fake-model.ts";
import { alone, prompt, scheduler, submit, type Request } from "./scheduler-harness.ts";

/** The fake model with a cache of `bytes` per position. */
function sized(bytes: number): FakeModel {
  return Object.assign(new FakeModel(), { kvBytesPerPosition: bytes });
}

describe("parseMemorySize", () => {
  it("reads bytes with binary multiples and shares of the total", () => {
    expect(parseMemorySize("536870912", 0)).toBe(536_870_912);
    expect(parseMemorySize("512MiB", 0)).toBe(512 * 1024 ** 2);
    expect(parseMemorySize("512m", 0)).toBe(512 * 1024 ** 2);
    expect(parseMemorySize("2G", 0)).toBe(2 * 1024 ** 3);
    expect(parseMemorySize("1.5GB", 0)).toBe(1.5 * 1024 ** 3);
    expect(parseMemorySize("64k", 0)).toBe(65_536);
    expect(parseMemorySize("25%", 4000)).toBe(1000);
    expect(parseMemorySize(" 100 % ", 4000)).toBe(4000);
  });

  it("refuses what is not a size", () => {
    for (const bad of ["", "0", "0%", "150%", "-5", "12 apples", "1e9", "G", "%"]) expect(parseMemorySize(bad, 4000)).toBeUndefined();
  });
});

describe("KvBudget", () => {
  it("counts rows × the longest reservation, and lets a first sequence in whatever its size", () => {
    const budget = new KvBudget<string>(1000, 10);
    expect(budget.fits(5000)).toBe(true);
    budget.take("a", 50);
    expect(budget.reservedBytes).toBe(500);
    expect(budget.fits(50)).toBe(true); // 2 × 50 × 10 = 1000
    expect(budget.fits(51)).toBe(false); // 2 × 51 × 10 > 1000
    budget.take("b", 20);
    expect(budget.reservedBytes).toBe(1000); // padded to the longest: 2 × 50 × 10
    expect(budget.fits(1)).toBe(false);
    budget.release("a");
    expect(budget.reservedBytes).toBe(200);
    budget.clear();
    expect(budget.reservedBytes).toBe(0);
  });
});

describe("Scheduler under a cache budget", () => {
  // Each request reserves 4 prompt + 6 new positions = 10; at 10 bytes a position, a 200-byte budget holds 2 rows.
  const REQUESTS: Request[] = Array.from({ length: 6 }, (_, i) => ({ prompts: [prompt(4, 2 + i)], params: { maxTokens: 6 } }));

  it("runs only as many sequences as the budget holds, queues the rest, and gives each its output alone", async () => {
    const model = sized(10);
    const { scheduler: s } = scheduler({ kvCacheBytes: 200 }, model);
    let overBudget = 0;
    const outcomes = await Promise.all(
      REQUESTS.map((r) =>
        submit(s, r, () => {
          if (s.stats().kvCacheReservedBytes > 200) overBudget++;
        }),
      ),
    );
    expect(overBudget).toBe(0);
    expect(Math.max(...model.decodes().map((d) => d.rows))).toBe(2);
    for (const [i, r] of REQUESTS.entries()) expect(outcomes[i]!.ids).toEqual((await alone(r)).ids);
    expect(s.stats()).toMatchObject({ rows: 0, queued: 0, kvCacheReservedBytes: 0, kvCacheBytes: 0, kvCacheLimitBytes: 200 });
  });

  it("without a limit the same requests share one batch", async () => {
    const model = sized(10);
    const { scheduler: s } = scheduler({}, model);
    await Promise.all(REQUESTS.map((r) => submit(s, r)));
    expect(Math.max(...model.decodes().map((d) => d.rows))).toBe(6);
    expect(s.stats().kvCacheLimitBytes).toBeNull();
  });

  it("a sequence larger than the whole budget still runs, alone", async () => {
    const model = sized(10);
    const { scheduler: s } = scheduler({ kvCacheBytes: 50 }, model);
    const outcomes = await Promise.all(REQUESTS.slice(0, 3).map((r) => submit(s, r)));
    expect(outcomes.map((o) => o.ids[0]!.length)).toEqual([6, 6, 6]);
    expect(Math.max(...model.decodes().map((d) => d.rows))).toBe(1);
  });

  it("reports the batch cache it holds while sequences run", async () => {
    const model = sized(10);
    const { scheduler: s } = scheduler({ kvCacheBytes: 1000 }, model);
    const seen: number[] = [];
    await submit(s, { prompts: [prompt(4)], params: { maxTokens: 5 } }, () => seen.push(s.stats().kvCacheBytes));
    // After the prefill the prompt's 4 positions are not in the batch yet; each decode step adds one position.
    expect(seen.slice(1)).toEqual([50, 60, 70, 80]);
  });
});

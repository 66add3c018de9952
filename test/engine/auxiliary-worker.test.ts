import { afterAll, describe, expect, it } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Engine } from "../../src/engine/engine.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";

/** Niceness of each thread of this process (Linux: per thread), by thread id. */
function threadNiceness(): Map<number, number> {
  const nice = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    nice.set(Number(tid), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
  }
  return nice;
}

describe.skipIf(!existsSync("/proc/self/task"))("the auxiliary worker", () => {
  const engine = new Engine({
    registry: new ModelRegistry({ modelsDir: resolve(import.meta.dir, "../../models") }),
    maxLoadedModels: 2,
    intraOpThreads: 1,
    auxiliaryNice: 7,
  });
  afterAll(() => engine.close());

  it("runs its models at the niceness it was given, and leaves the server's other threads alone", async () => {
    expect([...threadNiceness().values()].filter((n) => n === 7)).toHaveLength(0);
    const run = await engine.createCompletion({ model: "tiny-gpt2", prompts: ["Hi"], n: 1, temperature: 0, topP: 1, stop: [], maxTokens: 2 });
    for await (const _ of run.events()) {
      // drain
    }
    const embedded = await engine.createEmbeddings({ model: "tiny-bert", inputs: ["a river"] });
    expect(embedded.vectors[0]!.length).toBe(32);
    const nice = threadNiceness();
    // The auxiliary worker's thread (which runs tiny-bert with one intra-op thread) and nothing else.
    expect([...nice.values()].filter((n) => n === 7)).toHaveLength(1);
    expect(nice.get(process.pid)).toBe(0);
    expect([...nice.values()].filter((n) => n === 0).length).toBeGreaterThan(3);
  });
});

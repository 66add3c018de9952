// What each engine worker loads when it starts: modules reached through static imports from its entry. transformers.js
// (about 15 MiB a worker in the compiled server) must come only with a speech model, through a dynamic import; the
// tokenizer libraries text models need are there from the start.
import { describe, expect, it } from "bun:test";
import { resolve } from "node:path";
import { ENGINE_WORKER_ENTRIES } from "../../src/runtime/workers.ts";

const ROOT = resolve(import.meta.dir, "../..");

interface Metafile {
  inputs: Record<string, { imports: { path: string; kind: string }[] }>;
}

/** Every module reachable from `entry` through static imports (dynamic ones are where the walk stops). */
async function loadedAtStart(entry: string): Promise<{ static: Set<string>; all: Set<string> }> {
  const result = (await Bun.build({
    entrypoints: [resolve(ROOT, entry)],
    target: "bun",
    format: "esm",
    metafile: true,
    external: ["onnxruntime-node", "sharp"],
  } as Parameters<typeof Bun.build>[0])) as unknown as { success: boolean; metafile: Metafile };
  expect(result.success).toBe(true);
  const { inputs } = result.metafile;
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const path = pending.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    for (const imported of inputs[path]?.imports ?? []) if (imported.kind !== "dynamic-import") pending.push(imported.path);
  }
  return { static: seen, all: new Set(Object.keys(inputs)) };
}

const has = (paths: Set<string>, pattern: RegExp) => [...paths].some((path) => pattern.test(path));
const TRANSFORMERS = /@huggingface\/transformers\/dist\//;
const TOKENIZERS = /@huggingface\/tokenizers\/dist\//;

describe("engine workers' start-up imports", () => {
  it("lists the two workers this test walks", () => {
    expect([...ENGINE_WORKER_ENTRIES].sort()).toEqual(["src/engine/auxiliary-worker.ts", "src/engine/generation-worker.ts"]);
  });

  for (const entry of ENGINE_WORKER_ENTRIES) {
    it(`${entry}: the tokenizer libraries at start, transformers.js only through a dynamic import`, async () => {
      const { static: atStart, all } = await loadedAtStart(entry);
      expect(has(atStart, TOKENIZERS)).toBe(true);
      expect(has(atStart, TRANSFORMERS)).toBe(false);
      // The auxiliary worker serves speech models, which do load it.
      expect(has(all, TRANSFORMERS)).toBe(entry.includes("auxiliary"));
    });
  }
});

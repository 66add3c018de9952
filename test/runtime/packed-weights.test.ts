// Pre-packed weights saved once in the cache and mapped by later loads (src/runtime/packed-weights.ts) compute what
// weights packed in memory compute, bit for bit; the copy is saved once and reused, an incomplete or damaged one is
// saved again, partial copies of servers that are gone are removed, and a cache that cannot hold it leaves the model
// to load as before.
import { afterAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Decoder } from "../../src/engine/decoder.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";
import { packedEntry, packedGraph } from "../../src/runtime/packed-weights.ts";

const MODELS_DIR = resolve(import.meta.dir, "../../models");
const roots: string[] = [];
const decoders: Decoder[] = [];
afterAll(async () => {
  await Promise.all(decoders.map((d) => d.release()));
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "gpt3dev-packed-"));
  roots.push(dir);
  return dir;
}

async function open(id: string, file: string, cacheDir: string, packedWeightsFile: boolean): Promise<Decoder> {
  const dir = join(MODELS_DIR, id);
  const decoder = await Decoder.open(dir, file, readDecoderConfig(dir), { intraOpThreads: 1, cacheDir, packedWeightsFile });
  decoders.push(decoder);
  return decoder;
}

/** Logits of a prompt and of greedy steps after it, and the prompt's cache, each copied out. */
async function trace(d: Decoder): Promise<{ logits: Float32Array[]; cache: Float32Array[] }> {
  const prompt = [5, 17, 99, 3, 42, 8, 23, 61, 7];
  let { logits, kv } = await d.prefill(prompt, d.emptyKv(1), "last", prompt.length + 8);
  const cache = Object.values(kv.tensors).map((t) => (t.data as Float32Array).slice());
  const out = [logits.slice()];
  for (let step = 0; step < 6; step++) {
    const next = logits.reduce((best, v, i, all) => (v > all[best]! ? i : best), 0);
    ({ logits, kv } = await d.decode(kv, [next], [kv.width]));
    out.push(logits.slice());
  }
  return { logits: out, cache };
}

const entries = (cacheDir: string) => readdirSync(join(cacheDir, "packed")).filter((name) => !name.endsWith(".tmp"));

describe("pre-packed weights mapped from the cache", () => {
  // The tiny int8 and q4 graphs have no weight ONNX Runtime writes to a data file (the q4 one's was its embedding
  // table, which the runtime now reads rows of itself): their records say so and the graph is used.
  for (const [id, file, mapsData] of [
    ["tiny-gpt2", "model.onnx", true],
    ["tiny-gpt2", "model_quantized.onnx", false],
    ["tiny-llama", "model_q4.onnx", false],
  ] as const) {
    it(`${id}/${file}: the same logits and cache, bit for bit, as weights packed in memory`, async () => {
      const cacheDir = tempDir();
      const heap = await trace(await open(id, file, cacheDir, false));
      expect(existsSync(join(cacheDir, "packed"))).toBe(false);
      const mapped = await trace(await open(id, file, cacheDir, true));
      const [entry] = entries(cacheDir);
      expect(entries(cacheDir)).toHaveLength(1);
      const record = JSON.parse(readFileSync(join(cacheDir, "packed", entry!, "packed.json"), "utf8")) as { mapped: boolean };
      expect(record.mapped).toBe(mapsData);
      expect(existsSync(join(cacheDir, "packed", entry!, "model.onnx.data"))).toBe(mapsData);
      // The session opened the copy: ONNX Runtime maps its data file into this process.
      expect(readFileSync("/proc/self/maps", "utf8").includes(join(cacheDir, "packed", entry!, "model.onnx.data"))).toBe(mapsData);
      expect(mapped.cache).toEqual(heap.cache);
      expect(mapped.logits).toEqual(heap.logits);
    });
  }

  it("saves the copy once and reuses it; an incomplete copy is saved again", async () => {
    const cacheDir = tempDir();
    const first = await trace(await open("tiny-gpt2", "model.onnx", cacheDir, true));
    const [entry] = entries(cacheDir);
    const data = join(cacheDir, "packed", entry!, "model.onnx.data");
    const saved = statSync(data);
    const again = await trace(await open("tiny-gpt2", "model.onnx", cacheDir, true));
    expect(entries(cacheDir)).toEqual([entry!]);
    expect(statSync(data).ino).toBe(saved.ino);
    expect(statSync(data).mtimeMs).toBe(saved.mtimeMs);
    expect(again.logits).toEqual(first.logits);
    // A load stopped while saving leaves no record: the next load saves the copy again.
    rmSync(join(cacheDir, "packed", entry!, "packed.json"));
    rmSync(data);
    const resaved = await trace(await open("tiny-gpt2", "model.onnx", cacheDir, true));
    expect(existsSync(join(cacheDir, "packed", entry!, "packed.json"))).toBe(true);
    expect(existsSync(data)).toBe(true);
    expect(resaved.logits).toEqual(first.logits);
  });

  it("saves a copy again whose record cannot be read or whose data file is not the size it recorded", () => {
    const packedDir = join(tempDir(), "packed");
    const graph = join(MODELS_DIR, "tiny-gpt2", "onnx", "model.onnx");
    const entry = packedEntry(graph, packedDir, {});
    const data = join(entry, "model.onnx.data");
    expect(packedGraph(graph, packedDir, {})).toEqual({ path: join(entry, "model.onnx"), packed: true });
    const size = statSync(data).size;
    const record = JSON.parse(readFileSync(join(entry, "packed.json"), "utf8")) as { dataBytes?: number };
    expect(record.dataBytes).toBe(size);
    for (const damage of [
      () => writeFileSync(join(entry, "packed.json"), "{ not json"),
      () => writeFileSync(data, readFileSync(data).subarray(0, size - 1)),
      () => rmSync(join(entry, "model.onnx")),
    ]) {
      damage();
      const before = statSync(join(entry, "packed.json")).ino;
      const result = packedGraph(graph, packedDir, {});
      expect(result).toEqual({ path: join(entry, "model.onnx"), packed: true });
      expect(statSync(data).size).toBe(size);
      expect(statSync(join(entry, "packed.json")).ino).not.toBe(before);
    }
  });

  it("removes partial copies left by a server that is gone, not those of one still saving", () => {
    const packedDir = join(tempDir(), "packed");
    const graph = join(MODELS_DIR, "tiny-gpt2", "onnx", "model.onnx");
    const gone = Bun.spawnSync(["true"]).pid;
    const abandoned = join(packedDir, `0123abcd.${gone}.x1y2z3.tmp`);
    const saving = join(packedDir, `0123abcd.${process.ppid}.a1b2c3.tmp`);
    for (const dir of [abandoned, saving]) mkdirSync(dir, { recursive: true });
    expect(packedGraph(graph, packedDir, {}).packed).toBe(true);
    expect(existsSync(abandoned)).toBe(false);
    expect(existsSync(saving)).toBe(true);
  });

  it("leaves the graph to be opened as it is, with a warning, when the cache cannot hold the copy", async () => {
    const cacheDir = tempDir();
    writeFileSync(join(cacheDir, "packed"), "a file where the folder would go");
    const graph = join(MODELS_DIR, "tiny-gpt2", "onnx", "model.onnx");
    const result = packedGraph(graph, join(cacheDir, "packed"), {});
    expect(result.packed).toBe(false);
    expect(result.path).toBe(graph);
    expect(result.warning).toContain("pre-packed weights not cached");
    const reference = await trace(await open("tiny-gpt2", "model.onnx", tempDir(), false));
    const fallback = await trace(await open("tiny-gpt2", "model.onnx", cacheDir, true));
    expect(fallback.logits).toEqual(reference.logits);
  });

  it("removes the copies of the same graph another ONNX Runtime made, and those whose graph is gone, when it saves one", () => {
    const cacheDir = tempDir();
    const packedDir = join(cacheDir, "packed");
    const graph = join(MODELS_DIR, "tiny-gpt2", "onnx", "model.onnx");
    const otherGraph = join(MODELS_DIR, "tiny-llama", "onnx", "model.onnx");
    const fake = (name: string, record: object) => {
      mkdirSync(join(packedDir, name), { recursive: true });
      writeFileSync(join(packedDir, name, "packed.json"), JSON.stringify(record));
    };
    fake("older-ort", { version: 1, graph, ort: "1.0.0", mapped: true });
    fake("graph-gone", { version: 1, graph: join(cacheDir, "no-such-graph.onnx"), ort: "1.0.0", mapped: true });
    fake("other-graph-older-ort", { version: 1, graph: otherGraph, ort: "1.0.0", mapped: true });
    mkdirSync(join(packedDir, "not-an-entry"));
    const result = packedGraph(graph, packedDir, {});
    expect(result.packed).toBe(true);
    expect(readdirSync(packedDir).sort()).toEqual([packedEntry(graph, packedDir, {}).split("/").at(-1)!, "not-an-entry", "other-graph-older-ort"].sort());
  });

  it("keys a copy by the graph file and the optimization level", () => {
    const dir = tempDir();
    const graph = join(dir, "model.onnx");
    writeFileSync(graph, "graph bytes");
    mkdirSync(join(dir, "cache"));
    const cache = join(dir, "cache");
    const all = packedEntry(graph, cache, {});
    expect(packedEntry(graph, cache, { graphOptimizationLevel: "all" })).toBe(all);
    expect(packedEntry(graph, cache, { graphOptimizationLevel: "basic" })).not.toBe(all);
    utimesSync(graph, new Date(1_000_000), new Date(1_000_000));
    expect(packedEntry(graph, cache, {})).not.toBe(all);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelRegistry, readRegistryFile } from "../../src/engine/registry.ts";

let root: string;

function makeModel(dir: string, modelType: string, files: string[] = ["model.onnx"]) {
  mkdirSync(join(dir, "onnx"), { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: modelType }));
  for (const file of files) writeFileSync(join(dir, "onnx", file), "");
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "gpt3dev-registry-"));
  makeModel(join(root, "models", "decoder"), "gpt2");
  makeModel(join(root, "models", "encoder"), "bert");
  makeModel(join(root, "models", "quantized-only"), "llama", ["model_quantized.onnx"]);
  mkdirSync(join(root, "models", "not-a-model"));
  makeModel(join(root, "elsewhere", "custom"), "qwen2");
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("ModelRegistry", () => {
  it("serves every folder with a config.json, named after the folder", () => {
    const registry = new ModelRegistry({ modelsDir: join(root, "models") });
    expect(registry.list().map((m) => [m.id, m.kind, m.dtype])).toEqual([
      ["decoder", "text-generation", "fp32"],
      ["encoder", "embeddings", "fp32"],
      ["quantized-only", "text-generation", "q8"],
    ]);
  });

  it("adds and overrides models from a YAML registry, paths relative to the file", () => {
    const path = join(root, "registry.yaml");
    writeFileSync(
      path,
      [
        "models:",
        "  - name: custom-chat",
        "    path: elsewhere/custom",
        "    dtype: q8",
        "    max_context_tokens: 64",
        "    chat_template: \"{{ messages }}\"",
        "    openai_encoding: r50k_base",
        "    max_batch: 1",
        "  - name: decoder",
        "    kind: embeddings",
      ].join("\n"),
    );
    const registry = new ModelRegistry({ modelsDir: join(root, "models"), registryPath: path });
    const custom = registry.get("custom-chat");
    expect(custom?.dir).toBe(join(root, "elsewhere", "custom"));
    expect(custom?.dtype).toBe("q8");
    expect(custom?.maxContextTokens).toBe(64);
    expect(custom?.chatTemplate).toBe("{{ messages }}");
    expect(custom?.openaiEncoding).toBe("r50k_base");
    expect(custom?.maxBatch).toBe(1);
    expect(registry.get("decoder")?.kind).toBe("embeddings");
  });

  it("reads a JSON registry given as a plain list", () => {
    const path = join(root, "registry.json");
    writeFileSync(path, JSON.stringify([{ name: "c2", path: join(root, "elsewhere", "custom") }]));
    expect(readRegistryFile(path).map((e) => e.name)).toEqual(["c2"]);
  });

  it("rejects registry entries with bad fields, naming the entry", () => {
    const path = join(root, "bad.json");
    writeFileSync(path, JSON.stringify({ models: [{ name: "ok", path: "x" }, { name: "b", max_context_tokens: -1 }] }));
    expect(() => readRegistryFile(path)).toThrow("models[1]: 'max_context_tokens' must be a positive integer");
    writeFileSync(path, JSON.stringify([{ name: "x", openai_encoding: "gpt5" }]));
    expect(() => readRegistryFile(path)).toThrow("'openai_encoding' must be one of r50k_base");
    writeFileSync(path, JSON.stringify([{ name: "x", max_batch: 0 }]));
    expect(() => readRegistryFile(path)).toThrow("'max_batch' must be a positive integer");
    writeFileSync(path, JSON.stringify([{ name: "../etc" }]));
    expect(() => readRegistryFile(path)).toThrow("'name' must be a string");
    writeFileSync(path, JSON.stringify([{ name: "decoder", dtype: "fp64" }]));
    expect(() => new ModelRegistry({ modelsDir: join(root, "models"), registryPath: path })).toThrow("unknown dtype 'fp64'");
  });

  it("restricts the served models to the allow list", () => {
    const registry = new ModelRegistry({ modelsDir: join(root, "models"), allowList: ["encoder", "missing"] });
    expect(registry.list().map((m) => m.id)).toEqual(["encoder"]);
    expect(registry.get("decoder")).toBeUndefined();
  });

  it("never resolves an id as a path", () => {
    const registry = new ModelRegistry({ modelsDir: join(root, "models") });
    for (const id of ["../models/decoder", "./decoder", join(root, "models", "decoder"), "decoder\0", "not-a-model"]) {
      expect(registry.get(id)).toBeUndefined();
    }
  });

  it("serves nothing from a missing folder", () => {
    expect(new ModelRegistry({ modelsDir: join(root, "nope") }).list()).toEqual([]);
  });
});

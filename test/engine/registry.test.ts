import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelRegistry, readRegistryFile } from "../../src/engine/registry.ts";

let root: string;

function makeModel(dir: string, modelType: string, files: string[] = ["model.onnx"], config: Record<string, unknown> = {}) {
  mkdirSync(join(dir, "onnx"), { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: modelType, ...config }));
  writeFileSync(join(dir, "tokenizer.json"), "{}");
  for (const file of files) writeFileSync(join(dir, "onnx", file), "");
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "gpt3dev-registry-"));
  makeModel(join(root, "models", "decoder"), "gpt2");
  makeModel(join(root, "models", "encoder"), "bert");
  makeModel(join(root, "models", "quantized-only"), "llama", ["model_quantized.onnx"]);
  mkdirSync(join(root, "models", "not-a-model"));
  makeModel(join(root, "elsewhere", "custom"), "qwen2", ["model.onnx", "model_quantized.onnx"]);
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

  it("picks the default dtype from the files present, config.json's transformers.js_config first", () => {
    const dir = join(root, "dtypes");
    makeModel(join(dir, "all"), "qwen2", ["model_q4f16.onnx", "model_fp16.onnx", "model_q4.onnx", "model_quantized.onnx", "model.onnx"]);
    makeModel(join(dir, "half"), "qwen2", ["model_q4f16.onnx", "model_fp16.onnx"]);
    makeModel(join(dir, "four"), "qwen2", ["model_q4f16.onnx", "model_q4.onnx", "model_bnb4.onnx"]);
    makeModel(join(dir, "uint8"), "qwen2", ["model_uint8.onnx", "model_q4.onnx"]);
    makeModel(join(dir, "own"), "qwen2", ["model.onnx", "model_q4f16.onnx"], { "transformers.js_config": { dtype: "q4f16" } });
    makeModel(join(dir, "own-missing"), "qwen2", ["model.onnx"], { "transformers.js_config": { dtype: "q4f16" } });
    const registry = new ModelRegistry({ modelsDir: dir });
    expect(registry.list().map((m) => [m.id, m.dtype, m.dtypeSource])).toEqual([
      ["all", "fp32", "files"],
      ["four", "q4", "files"],
      ["half", "fp16", "files"],
      ["own", "q4f16", "files"],
      ["own-missing", "fp32", "files"],
      ["uint8", "uint8", "files"],
    ]);
  });

  it("refuses folders it cannot serve, each with its reason, and serves the rest", () => {
    const dir = join(root, "refused");
    makeModel(join(dir, "fine"), "phi3");
    makeModel(join(dir, "vision"), "llava", ["model.onnx"], { vision_config: {} });
    makeModel(join(dir, "seq2seq"), "t5", ["model.onnx"], { is_encoder_decoder: true });
    makeModel(join(dir, "unknown"), "rwkv");
    makeModel(join(dir, "no-onnx"), "llama", ["decoder_model_merged.onnx"]);
    const path = join(root, "refused.yaml");
    writeFileSync(path, ["- name: wrong-dtype", "  path: refused/fine", "  dtype: q4f16", "- name: tried", "  path: refused/unknown", "  kind: text-generation"].join("\n"));
    const registry = new ModelRegistry({ modelsDir: dir, registryPath: path });
    expect(registry.list().map((m) => m.id)).toEqual(["fine", "tried"]);
    expect(registry.refused()).toEqual([
      { id: "no-onnx", reason: expect.stringContaining("no ONNX file transformers.js would load in onnx/") },
      { id: "seq2seq", reason: expect.stringContaining("'t5' is an encoder-decoder model") },
      { id: "unknown", reason: expect.stringContaining("model_type 'rwkv' is not a family gpt3dev serves") },
      { id: "vision", reason: "'llava' takes images or audio; gpt3dev serves text models, Whisper speech recognition and VITS speech" },
      { id: "wrong-dtype", reason: "dtype q4f16 needs onnx/model_q4f16.onnx, which is missing (present: fp32)" },
    ]);
    expect(registry.refused()[0]!.reason).toContain("found decoder_model_merged.onnx");
    expect(registry.get("vision")).toBeUndefined();
    expect(registry.refusal("vision")).toContain("images or audio");
    expect(registry.refusal("fine")).toBeUndefined();
  });

  it("accepts every dtype name transformers.js maps to a file, and refuses others by name", () => {
    const path = join(root, "dtype-names.json");
    const names = ["fp32", "fp16", "q8", "int8", "uint8", "q4", "q4f16", "bnb4"];
    writeFileSync(path, JSON.stringify(names.map((dtype) => ({ name: dtype, path: "x", dtype }))));
    expect(readRegistryFile(path).map((e) => e.dtype)).toEqual(names);
    writeFileSync(path, JSON.stringify([{ name: "x", path: "x", dtype: "q2" }]));
    expect(() => readRegistryFile(path)).toThrow("models[0]: unknown dtype 'q2' (known: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4)");
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

  it("serves a sequence classifier as a moderation model, with the registry's label map, thresholds and keep_alive", () => {
    const dir = join(root, "classifiers");
    makeModel(join(dir, "models", "toxicity"), "bert", ["model.onnx"], {
      architectures: ["BertForSequenceClassification"],
      id2label: { 0: "toxic", 1: "hate" },
    });
    makeModel(join(dir, "models", "encoder"), "bert");
    const path = join(dir, "registry.yaml");
    writeFileSync(path, "models:\n  - name: toxicity\n    categories: {toxic: harassment}\n    thresholds: {hate: 0.8}\n    keep_alive: 5m\n  - name: encoder\n    keep_alive: -1\n");
    const registry = new ModelRegistry({ modelsDir: join(dir, "models"), registryPath: path });
    const spec = registry.get("toxicity")!;
    expect([spec.kind, spec.moderation, spec.keepAliveMs]).toEqual(["moderation", { categories: { toxic: "harassment" }, thresholds: { hate: 0.8 } }, 300_000]);
    expect([registry.get("encoder")?.kind, registry.get("encoder")?.keepAliveMs]).toEqual(["embeddings", null]);
    expect(new ModelRegistry({ modelsDir: join(dir, "models") }).get("toxicity")?.keepAliveMs).toBeUndefined();
    const bad = join(dir, "bad.json");
    for (const [entry, says] of [
      [{ name: "x", kind: "classifier" }, "'kind' must be one of text-generation, embeddings, moderation"],
      [{ name: "x", categories: { toxic: "rude" } }, "categories.toxic: 'rude' is not a moderation category"],
      [{ name: "x", thresholds: { hate: 2 } }, "thresholds.hate must be a number from 0 to 1"],
      [{ name: "x", keep_alive: "soon" }, "'keep_alive': keep-alive 'soon' is not a duration"],
    ] as const) {
      writeFileSync(bad, JSON.stringify([entry]));
      expect(() => readRegistryFile(bad)).toThrow(says);
    }
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

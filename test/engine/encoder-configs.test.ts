// The encoder fixtures' config quirks as the embedder reads them: nomic_bert's GPT-2 style names, XLM-RoBERTa's
// positions after the padding index, graphs without token_type_ids.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeModels } from "../../scripts/make-models.ts";
import { EmbeddingModel } from "../../src/engine/embedder.ts";
import { ContextLengthError } from "../../src/engine/errors.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import { createSession } from "../../src/runtime/session.ts";

const OUT = mkdtempSync(join(tmpdir(), "gpt3dev-encoder-configs-"));
const models: Record<string, EmbeddingModel> = {};

beforeAll(async () => {
  makeModels({ outDir: OUT, ids: ["encoder-nomic", "encoder-e5", "encoder-minilm"] });
  const registry = new ModelRegistry({ modelsDir: OUT });
  for (const spec of registry.list()) models[spec.id] = await EmbeddingModel.load(spec, { intraOpThreads: 1 });
});

afterAll(async () => {
  await Promise.all(Object.values(models).map((m) => m.release()));
  rmSync(OUT, { recursive: true, force: true });
});

const config = (id: string) => JSON.parse(readFileSync(join(OUT, id, "config.json"), "utf8")) as Record<string, unknown>;

describe("encoder configs", () => {
  it("read nomic_bert's width and context from n_embd and n_positions", () => {
    expect(config("encoder-nomic")).not.toHaveProperty("hidden_size");
    expect(config("encoder-nomic")).toMatchObject({ n_embd: 32, n_positions: 128 });
    expect(models["encoder-nomic"]!.width).toBe(32);
    expect(models["encoder-nomic"]!.contextLength).toBe(128);
  });

  it("count XLM-RoBERTa positions after the padding index: the context is max_position_embeddings - pad - 1", async () => {
    expect(config("encoder-e5")).toMatchObject({ model_type: "xlm-roberta", max_position_embeddings: 129, pad_token_id: 0 });
    expect(models["encoder-e5"]!.contextLength).toBe(128);
    // 126 words + [CLS] + [SEP] fill the context exactly; one more word is refused.
    expect((await models["encoder-e5"]!.embed(["the ".repeat(126)])).promptTokens).toBe(128);
    const error = await models["encoder-e5"]!.embed(["the ".repeat(127)]).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ContextLengthError);
  });

  it("feed only the inputs each graph declares", async () => {
    const inputs = async (id: string) => {
      const session = await createSession(join(OUT, id, "onnx", "model.onnx"), { intraOpThreads: 1 });
      const names = [...session.inputNames];
      await session.release();
      return names;
    };
    expect(await inputs("encoder-minilm")).toEqual(["input_ids", "attention_mask", "token_type_ids"]);
    for (const id of ["encoder-nomic", "encoder-e5"]) {
      expect(await inputs(id)).toEqual(["input_ids", "attention_mask"]);
      expect((await models[id]!.embed(["hello world"])).vectors[0]).toHaveLength(32);
    }
  });
});

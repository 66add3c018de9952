import { describe, expect, it } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import onnx from "onnx-proto";
import { describeModel, formatTable } from "../../src/cli/models.ts";
import { countInitializerElements } from "../../src/cli/onnx-parameters.ts";
import { MODELS_DIR } from "../http/app.ts";

/** The reference count: every initializer's dims multiplied, read with a full protobuf decoder. */
function referenceCount(path: string): number {
  const model = onnx.onnx.ModelProto.decode(readFileSync(path));
  return (model.graph?.initializer ?? []).reduce((sum, t) => sum + (t.dims ?? []).reduce((p: number, d) => p * Number(d), 1), 0);
}

describe("countInitializerElements", () => {
  it("counts what a full ONNX decoder counts, for every generated graph and dtype", () => {
    const graphs = readdirSync(MODELS_DIR).flatMap((model) =>
      readdirSync(join(MODELS_DIR, model, "onnx")).filter((f) => f.endsWith(".onnx")).map((f) => join(MODELS_DIR, model, "onnx", f)),
    );
    expect(graphs.length).toBeGreaterThanOrEqual(8);
    for (const graph of graphs) expect(`${graph}: ${countInitializerElements(graph)}`).toBe(`${graph}: ${referenceCount(graph)}`);
  });
});

describe("gpt3dev models", () => {
  it("reports kind, family, dtypes with sizes, context length and parameters of a model folder", () => {
    const dir = join(MODELS_DIR, "tiny-llama");
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { max_position_embeddings: number };
    const model = describeModel("tiny-llama", dir, "text-generation", "fp32");
    expect(model).toMatchObject({ id: "tiny-llama", kind: "text-generation", family: "llama", servedDtype: "fp32", contextLength: config.max_position_embeddings });
    expect(model.parameters).toBe(referenceCount(join(dir, "onnx/model.onnx")));
    expect(model.dtypes.find((d) => d.dtype === "q8")?.bytes).toBe(statSync(join(dir, "onnx/model_quantized.onnx")).size);
    const table = formatTable([model]).split("\n");
    expect(table[0]).toMatch(/^id +kind +family +dtypes \(served\*\) +context +parameters +size$/);
    expect(table[1]).toContain("fp32* 0.2 MB");
    expect(table[1]).toContain(`${(model.parameters! / 1000).toFixed(1)}K`);
  });

  it("counts a Whisper folder's encoder and merged decoder together", () => {
    const dir = join(MODELS_DIR, "tiny-whisper");
    const model = describeModel("tiny-whisper", dir, "speech-recognition", "fp32");
    const graphs = ["onnx/encoder_model.onnx", "onnx/decoder_model_merged.onnx"].map((file) => join(dir, file));
    expect(model).toMatchObject({ kind: "speech-recognition", family: "whisper", servedDtype: "fp32" });
    expect(model.dtypes).toEqual([{ dtype: "fp32", bytes: graphs.reduce((sum, graph) => sum + statSync(graph).size, 0) }]);
    expect(model.parameters).toBe(graphs.reduce((sum, graph) => sum + referenceCount(graph), 0));
  });
});

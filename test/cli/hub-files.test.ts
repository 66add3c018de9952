import { describe, expect, it } from "bun:test";
import type { ListFileEntry } from "@huggingface/hub";
import { chooseFiles } from "../../src/hub/hub-files.ts";

const SOURCE = { endpoint: "http://hub.invalid", repo: "org/model", revision: "main" };
const listing = (paths: string[]) => paths.map((path, i) => ({ type: "file", path, size: 100 + i, oid: `oid${i}` }) as unknown as ListFileEntry);
const SIDE = ["config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "README.md"];

describe("chooseFiles", () => {
  it("takes a Whisper export's encoder and merged decoder of one dtype, and none of its other graphs", () => {
    const entries = listing([
      ...SIDE,
      "onnx/encoder_model.onnx",
      "onnx/decoder_model_merged.onnx",
      "onnx/decoder_model.onnx",
      "onnx/decoder_with_past_model.onnx",
      "onnx/encoder_model_quantized.onnx",
      "onnx/decoder_model_merged_quantized.onnx",
      "onnx/decoder_model_merged_fp16.onnx",
    ]);
    const fp32 = chooseFiles(entries, undefined, SOURCE);
    expect(fp32.dtype).toBe("fp32");
    // Side files first (in localeCompare order, as the pull sorts them), then the graphs.
    const side = SIDE.filter((p) => p !== "README.md").sort((a, b) => a.localeCompare(b));
    expect(fp32.files.map((f) => f.path)).toEqual([...side, "onnx/decoder_model_merged.onnx", "onnx/encoder_model.onnx"]);
    const q8 = chooseFiles(entries, "q8", SOURCE);
    expect(q8.files.map((f) => f.path).filter((p) => p.startsWith("onnx/"))).toEqual(["onnx/decoder_model_merged_quantized.onnx", "onnx/encoder_model_quantized.onnx"]);
    // fp16 has a decoder but no encoder: not a dtype this repository has.
    expect(() => chooseFiles(entries, "fp16", SOURCE)).toThrow("it has fp32, q8");
  });

  it("keeps one-graph repositories (a VITS text-to-speech export) as they were", () => {
    const picked = chooseFiles(listing(["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx", "onnx/model_quantized.onnx"]), undefined, SOURCE);
    expect(picked.files.map((f) => f.path)).toEqual(["config.json", "tokenizer_config.json", "tokenizer.json", "onnx/model.onnx"]);
  });
});

// --tied-head: a tied LM head gets a pre-packed copy of its embedding table (faster decoding) unless the flag says
// shared; since token embeddings are read by the runtime the copy is the table's only one in memory, so auto packs.
import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { packsTiedHead, tiedHeadFor } from "../../src/engine/tied-head.ts";

const MODELS = resolve(import.meta.dir, "../../models");
const MiB = 2 ** 20;

describe("--tied-head", () => {
  test("auto and packed pack the head, shared shares it; a model without a tied head has nothing to pack", () => {
    expect(packsTiedHead("auto", 147 * MiB)).toBe(true);
    expect(packsTiedHead("packed", 147 * MiB)).toBe(true);
    expect(packsTiedHead("shared", 147 * MiB)).toBe(false);
    expect(packsTiedHead("auto", 0)).toBe(false);
    expect(packsTiedHead("packed", 0)).toBe(false);
  });

  test("a model file's head: packed or shared when it is tied, nothing to say otherwise", () => {
    const gpt2 = join(MODELS, "tiny-gpt2/onnx/model.onnx");
    expect(tiedHeadFor("packed", gpt2)).toBe("packed");
    expect(tiedHeadFor("shared", gpt2)).toBe("shared");
    expect(tiedHeadFor("auto", gpt2)).toBe("packed");
    expect(tiedHeadFor("packed", join(MODELS, "tiny-llama/onnx/model.onnx"))).toBeUndefined();
    expect(tiedHeadFor("auto", join(MODELS, "tiny-gpt2/onnx/model_quantized.onnx"))).toBeUndefined();
  });
});

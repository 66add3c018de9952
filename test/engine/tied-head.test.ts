// --tied-head: a tied LM head gets a pre-packed copy of its embedding table (faster decoding, the table twice) unless
// the model with that copy would take more than half the memory free, or the flag says otherwise.
import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { AUTO_WIDEN_SHARE } from "../../src/engine/fp16-weights.ts";
import { packsTiedHead, tiedHeadFor } from "../../src/engine/tied-head.ts";

const MODELS = resolve(import.meta.dir, "../../models");
const MiB = 2 ** 20;

describe("--tied-head", () => {
  test("auto packs the head while the file and the copy fit in half the memory free, and shares it beyond", () => {
    const [file, table] = [475 * MiB, 147 * MiB];
    const fits = (file + table) / AUTO_WIDEN_SHARE;
    expect(packsTiedHead("auto", file, table, fits)).toBe(true);
    expect(packsTiedHead("auto", file, table, fits - 1)).toBe(false);
    expect(packsTiedHead("auto", file, table, 64 * 2 ** 30)).toBe(true);
    // The flag wins whatever the memory; a model without a tied head has nothing to pack.
    expect(packsTiedHead("packed", file, table, 0)).toBe(true);
    expect(packsTiedHead("shared", file, table, 64 * 2 ** 30)).toBe(false);
    expect(packsTiedHead("packed", file, 0, 64 * 2 ** 30)).toBe(false);
  });

  test("a model file's head: packed or shared when it is tied, nothing to say otherwise", () => {
    const gpt2 = join(MODELS, "tiny-gpt2/onnx/model.onnx");
    expect(tiedHeadFor("packed", gpt2)).toBe("packed");
    expect(tiedHeadFor("shared", gpt2)).toBe("shared");
    // The tiny model fits in any machine's memory that runs the tests.
    expect(tiedHeadFor("auto", gpt2)).toBe("packed");
    expect(tiedHeadFor("packed", join(MODELS, "tiny-llama/onnx/model.onnx"))).toBeUndefined();
    expect(tiedHeadFor("auto", join(MODELS, "tiny-gpt2/onnx/model_quantized.onnx"))).toBeUndefined();
  });
});

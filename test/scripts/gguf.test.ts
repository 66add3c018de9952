// The GGUF writer behind llama.cpp's rows in the bench: the generated GPT-2 model written as GGUF (f32 and Q8_0) loads
// in llama.cpp (node-llama-cpp's prebuilt binary), tokenizes text as the model's own tokenizer does, and its greedy
// tokens are the ONNX model's (whose logits carry a bias llama.cpp's gpt2 graph has no place for: it is taken off).
import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { getLlama, type LlamaModel } from "node-llama-cpp";
import { Decoder } from "../../src/engine/decoder.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";
import { Tokenizer } from "../../src/engine/tokenizer.ts";
import { encodeTensor } from "../../scripts/gguf-writer.ts";
import { convert, onnxInitializers } from "../../scripts/gguf-from-onnx.ts";

const DIR = resolve(import.meta.dir, "../../models/tiny-gpt2");
const out = mkdtempSync(join(tmpdir(), "gpt3dev-gguf-"));
const models: LlamaModel[] = [];
let decoder: Decoder | undefined;
afterAll(async () => {
  for (const m of models) await m.dispose();
  await decoder?.release();
  rmSync(out, { recursive: true, force: true });
});

function argmax(logits: Float32Array, bias: Float32Array): number {
  let best = 0;
  for (let v = 1; v < bias.length; v++) if (logits[v]! - bias[v]! > logits[best]! - bias[best]!) best = v;
  return best;
}

describe("GGUF from the ONNX fixture", () => {
  it("quantizes Q8_0 blocks as ggml does: a float16 scale of max|x|/127 and rounded int8s", () => {
    const data = Float32Array.from({ length: 32 }, (_, i) => (i - 16) / 8);
    const bytes = encodeTensor("Q8_0", data);
    expect(bytes.length).toBe(34);
    const view = new DataView(bytes.buffer);
    const scale = new Float16Array(new Uint16Array([view.getUint16(0, true)]).buffer)[0]!;
    expect(scale).toBeCloseTo(2 / 127, 5);
    const q = Array.from(new Int8Array(bytes.buffer, 2, 32));
    expect(q[0]).toBe(-127);
    expect(q[16]).toBe(0);
    expect(q[20]).toBe(Math.round(0.5 / (2 / 127)));
  });

  for (const type of ["f32", "q8_0"]) {
    it(`${type}: llama.cpp loads it, tokenizes like the model's tokenizer, and decodes the ONNX model's greedy tokens`, async () => {
      const [path] = convert(DIR, out, [type]);
      const llama = await getLlama({ build: "never", gpu: false, logLevel: "error" as never });
      const model = await llama.loadModel({ modelPath: path!, gpuLayers: 0 });
      models.push(model);
      const text = "The river flows to the sea, and the sea answers.";
      const tokenizer = await Tokenizer.load(DIR);
      const tokens = model.tokenize(text);
      const prompt = Array.from(tokens, Number);
      expect(prompt).toEqual(tokenizer.encode(text));

      const ctx = await model.createContext({ contextSize: 128, threads: 1 });
      const got: number[] = [];
      for await (const token of ctx.getSequence().evaluate(tokens, { temperature: 0 })) {
        got.push(Number(token));
        if (got.length === 8) break;
      }
      await ctx.dispose();
      decoder ??= await Decoder.open(DIR, "model.onnx", readDecoderConfig(DIR), { intraOpThreads: 1 });
      const bias = onnxInitializers(join(DIR, "onnx", "model.onnx")).get("logits_bias")!.data;
      // Teacher-forced on llama.cpp's tokens, so one disagreement shows alone.
      const want: number[] = [];
      let step = await decoder.prefill(prompt, decoder.emptyKv());
      for (const token of got) {
        want.push(argmax(step.logits, bias));
        step = await decoder.prefill([token], step.kv);
      }
      if (type === "f32") expect(got).toEqual(want);
      // Q8_0 rounds every weight: most greedy tokens still agree.
      else expect(got.filter((t, i) => t === want[i]).length).toBeGreaterThanOrEqual(6);
    }, 60_000);
  }
});

// The 8-bit and NF4 weight files transformers.js's quantize.py writes besides q8: int8 (QInt8 weights, a scale per
// output column), uint8 (QUInt8 weights, asymmetric, uint8 zero point), bnb4 (com.microsoft MatMulBnb4, NF4, blocks
// of 64). tiny-llama ships each (scripts/fixtures/quantize.ts); served through the real server and the compiled
// binary, each answers greedily with exactly transformers.js's tokens on the same file.
import { beforeAll, describe, expect, it } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { makeModels } from "../../scripts/make-models.ts";
import { referenceCompletions } from "../formats/reference.ts";
import { fixtureFolder } from "./fixture-folder.ts";
import { describeEachMode } from "./suite.ts";

const MODELS = fixtureFolder("gpt3dev-dtypes-");
const OUT = MODELS.dir;
// Prompts on which the formats' greedy outputs differ (checked below).
const PROMPTS = ["In the", "Once upon a time", "The quick brown fox"];
const MAX_TOKENS = 12;
const DTYPES = ["fp32", "q8", "int8", "uint8", "bnb4"] as const;
const expected = new Map<string, string[]>();

beforeAll(async () => {
  makeModels({ outDir: OUT, ids: ["tiny-llama"] });
  writeFileSync(join(OUT, "registry.yaml"), DTYPES.map((dtype) => `- name: tiny-llama-${dtype}\n  path: tiny-llama\n  dtype: ${dtype}\n  max_batch: 1\n`).join(""));
  for (const dtype of DTYPES) expected.set(dtype, (await referenceCompletions(join(OUT, "tiny-llama"), dtype, PROMPTS, MAX_TOKENS)).map((r) => r.text));
});

describe("int8, uint8 and bnb4 fixture files", () => {
  it("are written with the operators and zero-point types of ONNX Runtime's quantizers", () => {
    const graph = (dtype: string) => onnx.ModelProto.decode(readFileSync(join(OUT, "tiny-llama", "onnx", `model_${dtype}.onnx`))).graph!;
    const ops = (dtype: string) => new Set(graph(dtype).node!.map((n) => `${n.domain || ""}:${n.opType}`));
    const zeroPoint = (dtype: string) => {
      const init = graph(dtype).initializer!.find((t) => t.name === "model.layers.0.self_attn.q_proj.weight_zero_point")!;
      return { type: init.dataType, dims: init.dims!.map(Number) };
    };
    for (const dtype of ["int8", "uint8"]) expect(ops(dtype)).toContain(":MatMulInteger");
    expect(ops("int8")).toContain(":DynamicQuantizeLinear");
    // int8: signed, one zero point per output column of q_proj [32, 32]; uint8: one unsigned zero point.
    expect(zeroPoint("int8")).toEqual({ type: onnx.TensorProto.DataType.INT8, dims: [32] });
    expect(zeroPoint("uint8")).toEqual({ type: onnx.TensorProto.DataType.UINT8, dims: [] });
    expect(ops("bnb4")).toContain("com.microsoft:MatMulBnb4");
    expect(ops("bnb4")).not.toContain(":MatMulInteger");
    const bnb4 = graph("bnb4").node!.find((n) => n.opType === "MatMulBnb4")!;
    expect(Object.fromEntries(bnb4.attribute!.map((a) => [a.name, Number(a.i)]))).toEqual({ K: 32, N: 32, block_size: 64, quant_type: 1 });
  });

  it("give each format its own output, so that serving the wrong file would be seen", () => {
    const outputs = DTYPES.map((dtype) => expected.get(dtype)!.join("|"));
    expect(new Set(outputs).size).toBe(DTYPES.length);
  });
});

describeEachMode(
  "quantized weight files",
  (ctx) => {
    it("completes greedily exactly as transformers.js does with each file", async () => {
      const { client } = ctx();
      for (const dtype of DTYPES) {
        for (const [i, prompt] of PROMPTS.entries()) {
          const completion = await client.completions.create({ model: `tiny-llama-${dtype}`, prompt, max_tokens: MAX_TOKENS, temperature: 0 });
          expect({ dtype, prompt, text: completion.choices[0]!.text }).toEqual({ dtype, prompt, text: expected.get(dtype)![i]! });
        }
      }
    });

    it("lists each with the dtype it serves", async () => {
      const page = (await (await fetch(`${ctx().server.baseURL}/v1/models`)).json()) as { data: { id: string; dtype: string }[] };
      const dtypes = Object.fromEntries(page.data.filter((m) => m.id.startsWith("tiny-llama-")).map((m) => [m.id, m.dtype]));
      expect(dtypes).toEqual(Object.fromEntries(DTYPES.map((dtype) => [`tiny-llama-${dtype}`, dtype])));
    });
  },
  { args: MODELS.args },
);

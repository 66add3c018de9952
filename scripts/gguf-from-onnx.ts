// Writes a GPT-2-architecture ONNX decoder made by the fixture generator (the bench model) as GGUF for llama.cpp:
// the same weights (read from onnx/model.onnx), llama.cpp's gpt2 tensor names and hyperparameters, and the model's
// byte-level BPE tokenizer (vocabulary and merges from tokenizer.json). One file per type: f32, f16, q8_0.
//   bun scripts/gguf-from-onnx.ts bench/models/gpt2-small-bench [--types f32,q8_0] [--out DIR]
// The export's logit bias (a constant added to every token's logit) has no place in llama.cpp's gpt2 graph and is
// left out: it changes which tokens win, not the work per token. Bench-only: the server never imports this.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { onnx } from "onnx-proto";
import { writeGguf, type GgmlTypeName, type GgufTensor, type MetaValue } from "./gguf-writer.ts";

const FILE_TYPES: Record<string, { type: GgmlTypeName; fileType: number }> = {
  f32: { type: "F32", fileType: 0 },
  f16: { type: "F16", fileType: 1 },
  q8_0: { type: "Q8_0", fileType: 7 },
};

/** The float32 initializers of an ONNX file, by name. */
export function onnxInitializers(path: string): Map<string, { dims: number[]; data: Float32Array }> {
  const model = onnx.ModelProto.decode(readFileSync(path));
  const out = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT) continue;
    const dims = (t.dims ?? []).map(Number);
    const raw = t.rawData;
    const data =
      raw && raw.length > 0
        ? new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))
        : Float32Array.from(t.floatData ?? []);
    out.set(t.name!, { dims, data });
  }
  return out;
}

/** [rows][cols] row-major → [cols][rows]. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

interface Tokenizer {
  tokens: string[];
  merges: string[];
  special: Set<number>;
}

function readTokenizer(dir: string): Tokenizer {
  const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
  const vocab: Record<string, number> = json.model.vocab;
  const tokens: string[] = [];
  for (const [token, id] of Object.entries(vocab)) tokens[id] = token;
  const special = new Set<number>();
  for (const added of json.added_tokens ?? []) {
    tokens[added.id] = added.content;
    if (added.special) special.add(added.id);
  }
  const merges = (json.model.merges as (string | [string, string])[]).map((m) => (typeof m === "string" ? m : m.join(" ")));
  return { tokens, merges, special };
}

/** The GGUF tensors of a GPT-2 fixture, `type` for matrices and F32 for norms and biases (as llama.cpp's quantize does). */
export function gpt2Tensors(weights: ReturnType<typeof onnxInitializers>, layers: number, type: GgmlTypeName): GgufTensor[] {
  const get = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new Error(`the ONNX file has no initializer '${name}' (not a gpt3dev GPT-2 fixture?)`);
    return w;
  };
  const vector = (gguf: string, onnxName: string): GgufTensor => {
    const w = get(onnxName);
    return { name: gguf, ne: [w.data.length], type: "F32", data: w.data };
  };
  // ONNX MatMul weights are [in, out]; ggml wants each output's row of inputs: ne = [in, out].
  const matrix = (gguf: string, onnxName: string): GgufTensor => {
    const { dims, data } = get(onnxName);
    const [rows, cols] = dims as [number, number];
    return { name: gguf, ne: [rows, cols], type, data: transpose(data, rows, cols) };
  };
  const table = (gguf: string, onnxName: string): GgufTensor => {
    const { dims, data } = get(onnxName);
    return { name: gguf, ne: [dims[1]!, dims[0]!], type, data };
  };
  const tensors: GgufTensor[] = [
    table("token_embd.weight", "transformer.wte.weight"),
    table("position_embd.weight", "transformer.wpe.weight"),
    vector("output_norm.weight", "transformer.ln_f.weight"),
    vector("output_norm.bias", "transformer.ln_f.bias"),
    // The tied head, written out so that every llama.cpp version finds it.
    table("output.weight", "transformer.wte.weight"),
  ];
  for (let i = 0; i < layers; i++) {
    const p = `transformer.h.${i}`;
    tensors.push(
      vector(`blk.${i}.attn_norm.weight`, `${p}.ln_1.weight`),
      vector(`blk.${i}.attn_norm.bias`, `${p}.ln_1.bias`),
      matrix(`blk.${i}.attn_qkv.weight`, `${p}.attn.c_attn.weight`),
      vector(`blk.${i}.attn_qkv.bias`, `${p}.attn.c_attn.bias`),
      matrix(`blk.${i}.attn_output.weight`, `${p}.attn.c_proj.weight`),
      vector(`blk.${i}.attn_output.bias`, `${p}.attn.c_proj.bias`),
      vector(`blk.${i}.ffn_norm.weight`, `${p}.ln_2.weight`),
      vector(`blk.${i}.ffn_norm.bias`, `${p}.ln_2.bias`),
      matrix(`blk.${i}.ffn_up.weight`, `${p}.mlp.c_fc.weight`),
      vector(`blk.${i}.ffn_up.bias`, `${p}.mlp.c_fc.bias`),
      matrix(`blk.${i}.ffn_down.weight`, `${p}.mlp.c_proj.weight`),
      vector(`blk.${i}.ffn_down.bias`, `${p}.mlp.c_proj.bias`),
    );
  }
  return tensors;
}

/** Converts `dir` (config.json, tokenizer.json, onnx/model.onnx) to `out/<name>-<type>.gguf`; returns the paths written. */
export function convert(dir: string, out: string, types: readonly string[]): string[] {
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  if (config.model_type !== "gpt2") throw new Error(`${dir} is a ${config.model_type} model; only gpt2 is converted`);
  const weights = onnxInitializers(join(dir, "onnx", "model.onnx"));
  const tok = readTokenizer(dir);
  const name = dir.split("/").filter(Boolean).pop()!;
  const paths: string[] = [];
  for (const key of types) {
    const t = FILE_TYPES[key];
    if (!t) throw new Error(`unknown type '${key}' (f32, f16, q8_0)`);
    const metadata: [string, MetaValue][] = [
      ["general.architecture", { str: "gpt2" }],
      ["general.name", { str: name }],
      ["general.file_type", { u32: t.fileType }],
      ["general.alignment", { u32: 32 }],
      ["gpt2.context_length", { u32: config.n_positions }],
      ["gpt2.embedding_length", { u32: config.n_embd }],
      ["gpt2.feed_forward_length", { u32: config.n_inner ?? 4 * config.n_embd }],
      ["gpt2.block_count", { u32: config.n_layer }],
      ["gpt2.attention.head_count", { u32: config.n_head }],
      ["gpt2.attention.layer_norm_epsilon", { f32: config.layer_norm_epsilon ?? 1e-5 }],
      ["tokenizer.ggml.model", { str: "gpt2" }],
      ["tokenizer.ggml.pre", { str: "gpt-2" }],
      ["tokenizer.ggml.tokens", { strings: tok.tokens }],
      ["tokenizer.ggml.token_type", { i32s: tok.tokens.map((_, id) => (tok.special.has(id) ? 3 : 1)) }],
      ["tokenizer.ggml.merges", { strings: tok.merges }],
      ["tokenizer.ggml.bos_token_id", { u32: config.bos_token_id }],
      ["tokenizer.ggml.eos_token_id", { u32: config.eos_token_id }],
      ["tokenizer.ggml.add_bos_token", { bool: false }],
    ];
    const path = join(out, `${name}-${key}.gguf`);
    writeGguf(path, metadata, gpt2Tensors(weights, config.n_layer, t.type));
    paths.push(path);
  }
  return paths;
}

/** The GGUF file of `dir` in `type`, written first when missing or older than the ONNX file. */
export function ggufFor(dir: string, type: string): string {
  const name = dir.split("/").filter(Boolean).pop()!;
  const path = join(dir, `${name}-${type}.gguf`);
  const source = join(dir, "onnx", "model.onnx");
  if (!existsSync(path) || statSync(path).mtimeMs < statSync(source).mtimeMs) convert(dir, dir, [type]);
  return path;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { types: { type: "string", default: "f32,q8_0" }, out: { type: "string" } } });
  const dir = positionals[0];
  if (!dir) throw new Error("usage: bun scripts/gguf-from-onnx.ts <model dir> [--types f32,f16,q8_0] [--out DIR]");
  for (const path of convert(dir, values.out ?? dir, values.types.split(","))) console.log(`${path}: ${(statSync(path).size / 2 ** 20).toFixed(1)} MiB`);
}

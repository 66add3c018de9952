// One decode step at a long context, attention as exported (Concat of past and new every layer: the step writes a new
// cache, two buffer sets in turn, as the server did before) against attention rewritten into GroupQueryAttention over
// one buffer that is both past and present (the step writes its new position only), both through ONNX Runtime's C API
// with outputs in place, sessions taking turns in one process. Random cache contents (the cost does not depend on them).
//   bun bench/fused-attention.ts [--model bench-int8|bench-fp32] [--context 896] [--rows 1,8] [--steps 16]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readDecoderConfig } from "../src/engine/model-config.ts";
import { prepareDecoderFile } from "../src/runtime/graph-rewrite/rewrite-cache.ts";
import { DirectSession } from "../src/runtime/direct-session.ts";
import { ort } from "../src/runtime/onnx.ts";
import { benchModel, ensureModels } from "./models.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "bench-int8" },
    context: { type: "string", default: "896" },
    rows: { type: "string", default: "1,8" },
    steps: { type: "string", default: "16" },
  },
});
const key = values.model as Parameters<typeof benchModel>[0];
await ensureModels([key], (line) => console.error(line));
const m = benchModel(key);
const config = readDecoderConfig(m.dir);
const cacheDir = mkdtempSync(join(tmpdir(), "gpt3dev-fused-"));
const source = join(m.dir, "onnx", m.file);
const exported = DirectSession.open(prepareDecoderFile(source, cacheDir).path, { intraOpThreads: 2, warnings: false });
const fusedFile = prepareDecoderFile(source, cacheDir, { heads: config.heads });
if (!fusedFile.rewrites.includes("shared-kv-attention")) throw new Error(`${key}: the attention rewrite does not apply`);
const fused = DirectSession.open(fusedFile.path, { intraOpThreads: 2, warnings: false });

const L = config.numLayers;
const [H, D, V] = [config.kvHeads, config.headDim, config.vocabSize];
const W = Number(values.context);
const steps = Number(values.steps);
const names = Array.from({ length: L }, (_, i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]).flat();
const tensor = (type: "int64" | "float32", data: BigInt64Array | Float32Array, dims: number[]) => new ort.Tensor(type, data, dims);

function inputs(rows: number, width: number): Record<string, ort.Tensor> {
  return {
    input_ids: tensor("int64", BigInt64Array.from({ length: rows }, (_, i) => BigInt(100 + i)), [rows, 1]),
    attention_mask: tensor("int64", new BigInt64Array(rows * (width + 1)).fill(1n), [rows, width + 1]),
    position_ids: tensor("int64", new BigInt64Array(rows).fill(BigInt(width)), [rows, 1]),
    num_logits_to_keep: tensor("int64", BigInt64Array.from([1n]), []),
  };
}

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x / 2 ** 32 - 0.5;
  }
  return out;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

console.log(`### ${key}: one decode step at ${W} positions, ${steps} steps each way (median ms)\n`);
console.log("| rows | exported attention (Concat) | GroupQueryAttention in place | × |\n| ---: | ---: | ---: | ---: |");
for (const rows of values.rows!.split(",").map(Number)) {
  const room = W + steps + 64;
  const sets = [0, 1].map(() => names.map(() => new Float32Array(rows * H * (W + steps + 1) * D)));
  const shared = names.map((_, l) => {
    const init = random(rows * H * W * D, l + 1);
    sets[0]![l]!.set(init);
    const buffer = new Float32Array(rows * H * room * D);
    for (let r = 0; r < rows * H; r++) buffer.set(init.subarray(r * W * D, (r + 1) * W * D), r * room * D);
    return buffer;
  });
  const logits = [new Float32Array(rows * V), new Float32Array(rows * V)];
  const plain: number[] = [];
  const inPlace: number[] = [];
  for (let s = 0; s < steps; s++) {
    const width = W + s;
    const [from, to] = [sets[s % 2]!, sets[(s + 1) % 2]!];
    const feeds = inputs(rows, width);
    const outs: Record<string, ort.Tensor> = { logits: tensor("float32", logits[0]!, [rows, 1, V]) };
    names.forEach((name, l) => {
      feeds[name] = tensor("float32", from[l]!.subarray(0, rows * H * width * D), [rows, H, width, D]);
      outs[name.replace("past_key_values", "present")] = tensor("float32", to[l]!.subarray(0, rows * H * (width + 1) * D), [rows, H, width + 1, D]);
    });
    let t0 = performance.now();
    exported.runNow(feeds, outs);
    plain.push(performance.now() - t0);
    const sharedFeeds = inputs(rows, width);
    const sharedOuts: Record<string, ort.Tensor> = { logits: tensor("float32", logits[1]!, [rows, 1, V]) };
    names.forEach((name, l) => {
      const t = tensor("float32", shared[l]!, [rows, H, room, D]);
      sharedFeeds[name] = t;
      sharedOuts[name.replace("past_key_values", "present")] = t;
    });
    t0 = performance.now();
    fused.runNow(sharedFeeds, sharedOuts);
    inPlace.push(performance.now() - t0);
  }
  // The first two steps of each warm the arena and the pages; the median of the rest.
  const [a, b] = [median(plain.slice(2)), median(inPlace.slice(2))];
  console.log(`| ${rows} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(a / b).toFixed(2)}× |`);
}
await exported.release();
await fused.release();
rmSync(cacheDir, { recursive: true, force: true });

// Decode steps with the KV cache written in place (the server's default: ONNX Runtime's C API writes `present.*` and
// logits into the engine's buffers), with and without ONNX Runtime's CPU arena, against onnxruntime-node's copied
// outputs (`--ort-outputs copied`), side by side in one process: three Decoders of the same model decode in turns
// (blocks of 4 steps) after the same prompt. Prints the median step time of each and its speed-up over the copies.
//   bun bench/decoder-outputs.ts [bench-int8,bench-fp32] [32,896] [rows]
import { Decoder } from "../src/engine/decoder.ts";
import { readDecoderConfig } from "../src/engine/model-config.ts";
import { benchModel, ensureModels } from "./models.ts";

const keys = (process.argv[2] ?? "bench-int8,bench-fp32").split(",");
const lengths = (process.argv[3] ?? "32,896").split(",").map(Number);
const rows = Number(process.argv[4] ?? 1);
const BLOCKS = Number(process.env.BLOCKS ?? 4);
const STEPS = 4;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await ensureModels(keys as Parameters<typeof ensureModels>[0], (line) => console.error(line));
for (const key of keys) {
  const m = benchModel(key as Parameters<typeof benchModel>[0]);
  const config = readDecoderConfig(m.dir);
  const variants = [
    ["copied (--ort-outputs copied)", await Decoder.open(m.dir, m.file, config, { intraOpThreads: 2, inPlaceOutputs: false })],
    ["in place (default)", await Decoder.open(m.dir, m.file, config, { intraOpThreads: 2, inPlaceOutputs: true })],
    ["in place, --ort-arena off", await Decoder.open(m.dir, m.file, config, { intraOpThreads: 2, inPlaceOutputs: true, memoryArena: false })],
  ] as const;
  for (const length of lengths) {
    const prompt = Array.from({ length }, (_, i) => (101 + i * 37) % 50000);
    const state = await Promise.all(
      variants.map(async ([, d]) => {
        const first = await d.prefillBatch(Array.from({ length: rows }, () => ({ ids: prompt })));
        return { d, kv: first.kv, width: length, times: [] as number[] };
      }),
    );
    for (let b = 0; b < BLOCKS; b++) {
      for (const st of state) {
        for (let k = 0; k < STEPS; k++) {
          const t = performance.now();
          const out = await st.d.decode(st.kv, new Array(rows).fill(13), new Array(rows).fill(st.width));
          st.times.push(performance.now() - t);
          st.kv = out.kv;
          st.width++;
        }
      }
    }
    const copied = median(state[0]!.times);
    for (const [i, st] of state.entries()) {
      console.log(JSON.stringify({ model: key, context: length, rows, variant: variants[i]![0], medianStepMs: +median(st.times).toFixed(1), speedVsCopied: +(copied / median(st.times)).toFixed(2) }));
    }
    for (const st of state) st.d.releaseDecodeBuffers();
  }
  await Promise.all(variants.map(([, d]) => d.release()));
}

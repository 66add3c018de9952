// ONNX Runtime thread spinning, side by side in one process: three sessions of the same model decode in turns (blocks
// of 4 steps) after the same prompt: the server's default (spinning off), `--ort-spinning on` (spin during a run,
// stop after it: `session.force_spinning_stop`) and ONNX Runtime's default (spinning on, threads keep spinning after
// a run: the raw loop's fastest), and one intra-op thread (no thread to wait for). Prints the median step time of each and its speed relative to ORT's default.
//   bun bench/spinning.ts [bench-int8,bench-fp32] [32,896]
import * as ort from "onnxruntime-node";
import { join } from "node:path";
import { benchModel, ensureModels } from "./models.ts";
import { serverSessionOptions } from "./session-options.ts";

const keys = (process.argv[2] ?? "bench-int8,bench-fp32").split(",");
const lengths = (process.argv[3] ?? "32,896").split(",").map(Number);
const BLOCKS = Number(process.env.BLOCKS ?? 4);
const STEPS = 4;

const variants: [string, ort.InferenceSession.SessionOptions][] = [
  ["spinning off (server default)", serverSessionOptions(2, false)],
  ["spin while running (--ort-spinning on)", { ...serverSessionOptions(2, false), extra: { session: { intra_op: { allow_spinning: "1" }, inter_op: { allow_spinning: "0" }, force_spinning_stop: "1" } } }],
  ["ONNX Runtime default (spinning on)", serverSessionOptions(2, true)],
  ["1 intra-op thread", serverSessionOptions(1, false)],
];

const i64 = (values: number[], dims: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), dims);

await ensureModels(keys as Parameters<typeof ensureModels>[0], (line) => console.error(line));
for (const key of keys) {
  const m = benchModel(key as Parameters<typeof benchModel>[0]);
  const sessions = await Promise.all(variants.map(([, options]) => ort.InferenceSession.create(join(m.dir, "onnx", m.file), options)));
  for (const length of lengths) {
    const prompt = Array.from({ length }, (_, i) => (101 + i * 37) % 50000);
    const state = await Promise.all(
      sessions.map(async (s) => {
        const feeds: Record<string, ort.Tensor> = { input_ids: i64(prompt, [1, length]), attention_mask: i64(prompt.map(() => 1), [1, length]) };
        if (s.inputNames.includes("position_ids")) feeds.position_ids = i64(prompt.map((_, i) => i), [1, length]);
        for (const name of s.inputNames) if (name.startsWith("past_key_values")) feeds[name] = new ort.Tensor("float32", new Float32Array(0), [1, 12, 0, 64]);
        return { session: s, out: await s.run(feeds), width: length, times: [] as number[] };
      }),
    );
    for (let b = 0; b < BLOCKS; b++) {
      for (const st of state) {
        for (let k = 0; k < STEPS; k++) {
          const feeds: Record<string, ort.Tensor> = { input_ids: i64([13], [1, 1]), attention_mask: i64(new Array(st.width + 1).fill(1), [1, st.width + 1]) };
          if (st.session.inputNames.includes("position_ids")) feeds.position_ids = i64([st.width], [1, 1]);
          for (const name of st.session.inputNames) if (name.startsWith("past_key_values")) feeds[name] = st.out[name.replace("past_key_values", "present")]!;
          const t = performance.now();
          st.out = await st.session.run(feeds);
          st.times.push(performance.now() - t);
          st.width++;
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ref = median(state[2]!.times);
    for (const [i, st] of state.entries()) {
      console.log(JSON.stringify({ model: key, context: length, variant: variants[i]![0], medianStepMs: +median(st.times).toFixed(1), speedVsOrtDefault: +(ref / median(st.times)).toFixed(2) }));
    }
  }
  await Promise.all(sessions.map((s) => s.release()));
}

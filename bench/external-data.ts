// Resident memory of one decoder session opened from a graph with its weights inline against the same graph with
// them in model.onnx_data (page-aligned), each in a fresh process: does external data get copied into memory twice?
//   bun bench/external-data.ts [--hidden 768] [--layers 8] [--runs 3]   (hidden: a multiple of 12 heads × 2)
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { llamaGraph, llamaWeights, type LlamaConfig } from "../scripts/fixtures/llama.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

if (process.argv[2] === "--child") {
  const ort = await import("onnxruntime-node");
  const rss = () => Number(readFileSync("/proc/self/status", "utf8").match(/VmRSS:\s+(\d+) kB/)![1]) * 1024;
  const before = rss();
  const session = await ort.InferenceSession.create(process.argv[3]!, { executionProviders: ["cpu"], graphOptimizationLevel: "all" });
  Bun.gc(true);
  await Bun.sleep(250);
  console.log(JSON.stringify({ added: rss() - before }));
  await session.release();
  process.exit(0);
}

const hidden = arg("hidden", 768);
const layers = arg("layers", 8);
const runs = arg("runs", 3);
const c: LlamaConfig = { layers, hidden, heads: 12, kvHeads: 4, intermediate: hidden * 4, maxPositions: 1024, vocabSize: 32000, bosTokenId: 0, eosTokenIds: [1] };
const dir = mkdtempSync(join(tmpdir(), "gpt3dev-external-"));
try {
  const w = llamaWeights(c, { embed: 0.02, attn: 0.02, mlp: 0.02, lmHead: 0.02 }, "external-bench");
  writeFileSync(join(dir, "inline.onnx"), llamaGraph(c, w, false).encode());
  const [model, data] = llamaGraph(c, w, false).encodeExternal({ location: "external.onnx_data", threshold: 1024, align: 4096 });
  writeFileSync(join(dir, "external.onnx"), model);
  writeFileSync(join(dir, "external.onnx_data"), data);
  const size = statSync(join(dir, "inline.onnx")).size;
  console.log(`model: ${layers} layers, hidden ${hidden}, ${(size / 2 ** 20).toFixed(0)} MiB of fp32 weights`);
  const measure = (file: string) => {
    const r = Bun.spawnSync([process.execPath, import.meta.path, "--child", join(dir, file)], { env: { ...process.env, ORT_DISABLE_TELEMETRY: "1" } });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    return (JSON.parse(r.stdout.toString().trim().split("\n").at(-1)!) as { added: number }).added;
  };
  for (let run = 1; run <= runs; run++) {
    const inline = measure("inline.onnx");
    const external = measure("external.onnx");
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    console.log(`run ${run}: RSS added by the session: inline ${mib(inline)} (${(inline / size).toFixed(2)}× the file), external data ${mib(external)} (${(external / size).toFixed(2)}×)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

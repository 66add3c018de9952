// An fp16 file's decoder with its matrix weights widened at load and kept fp16 (`--fp16-weights float16`), side by
// side in this one process: both are opened the way the server opens them (load-time rewrites and pre-packed weights
// in a cache folder), then take turns round after round, so that a shared machine's load disturbs them alike. Per
// round: greedy decode tokens/s of one row and of eight rows (32-token prompts), and a 512-token prefill. Prints the
// medians over rounds and kept/widened ratios. Only timings are recorded.
//
//   bun bench/fp16-weights.ts [--rounds 5] [--cache-dir DIR]   (the Llama-shaped bench model's fp16 file; generated
//   when missing, like the memory table's)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decoder } from "../src/engine/decoder.ts";
import { readDecoderConfig } from "../src/engine/model-config.ts";
import { ensureMemoryFiles, memoryFile } from "./memory-table.ts";

interface Rates {
  one: number[];
  eight: number[];
  prefillMs: number[];
}

const argmax = (logits: Float32Array, from: number, size: number): number => {
  let best = 0;
  for (let i = 1; i < size; i++) if (logits[from + i]! > logits[from + best]!) best = i;
  return best;
};

/** Tokens/s of `steps` greedy steps for `rows` rows after 32-token prompts (distinct per row). */
async function decodeRate(decoder: Decoder, rows: number, steps: number): Promise<number> {
  const vocab = decoder.config.vocabSize;
  const prompts = Array.from({ length: rows }, (_, r) => Array.from({ length: 32 }, (_, i) => (i * 7 + r * 3) % (vocab - 8)));
  const filled = await Promise.all(prompts.map(async (ids) => decoder.prefill(ids, decoder.emptyKv())));
  let kv = rows === 1 ? filled[0]!.kv : decoder.pack(filled.map((f) => ({ kv: f.kv, row: 0, length: 32 })), true);
  let tokens = filled.map((f) => argmax(f.logits, 0, vocab));
  let lengths = new Array<number>(rows).fill(32);
  const start = performance.now();
  for (let s = 0; s < steps; s++) {
    const out = await decoder.decode(kv, tokens, lengths);
    kv = out.kv;
    lengths = lengths.map((l) => l + 1);
    tokens = tokens.map((_, r) => argmax(out.logits, r * vocab, vocab));
  }
  return (steps * rows) / ((performance.now() - start) / 1000);
}

async function prefillMs(decoder: Decoder, length: number): Promise<number> {
  const ids = Array.from({ length }, (_, i) => (i * 13) % (decoder.config.vocabSize - 8));
  const start = performance.now();
  await decoder.prefill(ids, decoder.emptyKv());
  return performance.now() - start;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const rounds = Number(option("--rounds") ?? 5);
  const ownCache = option("--cache-dir") === undefined;
  const cacheDir = option("--cache-dir") ?? mkdtempSync(join(tmpdir(), "gpt3dev-fp16-bench-"));
  await ensureMemoryFiles(["llama-fp16"], (line) => console.error(line));
  const file = memoryFile("llama-fp16");
  const config = readDecoderConfig(file.dir);
  const open = (halfWeights: boolean) => Decoder.open(file.dir, file.file, config, { intraOpThreads: 2, cacheDir, halfWeights });
  const decoders = { widened: await open(false), kept: await open(true) };
  try {
    const rates: Record<keyof typeof decoders, Rates> = { widened: { one: [], eight: [], prefillMs: [] }, kept: { one: [], eight: [], prefillMs: [] } };
    for (const d of Object.values(decoders)) await decodeRate(d, 1, 4);
    for (let round = 0; round < rounds; round++) {
      for (const [name, d] of Object.entries(decoders) as [keyof typeof decoders, Decoder][]) {
        rates[name].one.push(await decodeRate(d, 1, 32));
        rates[name].eight.push(await decodeRate(d, 8, 16));
        rates[name].prefillMs.push(await prefillMs(d, 512));
      }
    }
    const w = rates.widened;
    const k = rates.kept;
    console.log(`${file.fixture} ${file.file}, 2 threads, medians of ${rounds} interleaved rounds`);
    console.log(`| weights | decode tok/s, 1 row | 8 rows | prefill 512 tokens, ms |\n| --- | ---: | ---: | ---: |`);
    for (const [name, r] of Object.entries(rates)) console.log(`| ${name} | ${median(r.one).toFixed(1)} | ${median(r.eight).toFixed(1)} | ${median(r.prefillMs).toFixed(0)} |`);
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    console.log(
      `kept / widened: decode ${ratio(median(k.one), median(w.one))}× (1 row), ${ratio(median(k.eight), median(w.eight))}× (8 rows), ` +
        `prefill speed ${ratio(median(w.prefillMs), median(k.prefillMs))}×`,
    );
  } finally {
    await Promise.all(Object.values(decoders).map((d) => d.release()));
    if (ownCache) rmSync(cacheDir, { recursive: true, force: true });
  }
}

await main();

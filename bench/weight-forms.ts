// One model file's decoder opened in two forms side by side in this one process, both the way the server opens them
// (load-time rewrites and pre-packed weights in a cache folder), taking turns round after round so that a shared
// machine's load disturbs them alike. Per round: greedy decode tokens/s of one row and of eight rows (32-token
// prompts), and a 512-token prefill. Prints the medians over rounds and the second form's ratios to the first's.
// Only timings are recorded.
//
//   bun bench/weight-forms.ts [--compare fp16|tied-head|embedding-rows] [--rounds 5] [--cache-dir DIR]
//     fp16 (default): the Llama-shaped bench model's fp16 file, matrix weights widened at load, then kept fp16
//                     (--fp16-weights float32 / float16)
//     tied-head:      the GPT-2-small-shaped bench model's fp32 file, its LM head with a packed copy of the embedding
//                     table, then sharing the table (--tied-head packed / shared)
//     embedding-rows: the GPT-2-small-shaped bench model's fp32 file (head packed), token embeddings gathered by the
//                     graph from the mapped table, then read by the runtime from the data file
//   The bench models are generated when missing, like the memory table's.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decoder } from "../src/engine/decoder.ts";
import { readDecoderConfig } from "../src/engine/model-config.ts";
import type { SessionSettings } from "../src/runtime/session.ts";
import { ensureMemoryFiles, memoryFile, type MemoryFileKey } from "./memory-table.ts";

interface Form {
  name: string;
  settings: SessionSettings;
}

/** What each comparison opens: the file, then the two forms (the ratios are the second's to the first's). */
const FORMS: Record<"fp16" | "tied-head" | "embedding-rows", { file: MemoryFileKey; label: string; first: Form; second: Form }> = {
  fp16: { file: "llama-fp16", label: "weights", first: { name: "widened", settings: { halfWeights: false } }, second: { name: "kept", settings: { halfWeights: true } } },
  "tied-head": { file: "gpt2-fp32", label: "tied head", first: { name: "packed", settings: { packedHead: true } }, second: { name: "shared", settings: { packedHead: false } } },
  "embedding-rows": {
    file: "gpt2-fp32",
    label: "token embeddings",
    first: { name: "gathered", settings: { packedHead: true, embeddingRows: false } },
    second: { name: "read", settings: { packedHead: true, embeddingRows: true } },
  },
};

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
  const cacheDir = option("--cache-dir") ?? mkdtempSync(join(tmpdir(), "gpt3dev-weight-forms-"));
  const compare = option("--compare") ?? "fp16";
  if (compare !== "fp16" && compare !== "tied-head" && compare !== "embedding-rows") {
    throw new Error(`--compare: expected fp16, tied-head or embedding-rows, got '${compare}'`);
  }
  const form = FORMS[compare];
  await ensureMemoryFiles([form.file], (line) => console.error(line));
  const file = memoryFile(form.file);
  const config = readDecoderConfig(file.dir);
  const open = (settings: SessionSettings) => Decoder.open(file.dir, file.file, config, { intraOpThreads: 2, cacheDir, ...settings });
  const decoders = [await open(form.first.settings), await open(form.second.settings)] as const;
  try {
    const rates: [Rates, Rates] = [{ one: [], eight: [], prefillMs: [] }, { one: [], eight: [], prefillMs: [] }];
    for (const d of decoders) await decodeRate(d, 1, 4);
    for (let round = 0; round < rounds; round++) {
      for (const [i, d] of decoders.entries()) {
        rates[i]!.one.push(await decodeRate(d, 1, 32));
        rates[i]!.eight.push(await decodeRate(d, 8, 16));
        rates[i]!.prefillMs.push(await prefillMs(d, 512));
      }
    }
    const [a, b] = rates;
    console.log(`${file.fixture} ${file.file}, 2 threads, medians of ${rounds} interleaved rounds`);
    console.log(`| ${form.label} | decode tok/s, 1 row | 8 rows | prefill 512 tokens, ms |\n| --- | ---: | ---: | ---: |`);
    for (const [i, r] of rates.entries()) console.log(`| ${[form.first, form.second][i]!.name} | ${median(r.one).toFixed(1)} | ${median(r.eight).toFixed(1)} | ${median(r.prefillMs).toFixed(0)} |`);
    const ratio = (x: number, y: number) => (x / y).toFixed(2);
    console.log(
      `${form.second.name} / ${form.first.name}: decode ${ratio(median(b.one), median(a.one))}× (1 row), ${ratio(median(b.eight), median(a.eight))}× (8 rows), ` +
        `prefill speed ${ratio(median(a.prefillMs), median(b.prefillMs))}×`,
    );
  } finally {
    await Promise.all(decoders.map((d) => d.release()));
    if (ownCache) rmSync(cacheDir, { recursive: true, force: true });
  }
}

await main();

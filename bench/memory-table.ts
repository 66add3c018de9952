// The memory table of `bun run bench`: per model file (fp32 with its tied head packed and shared, int8, q4, fp16, and fp16 with --fp16-weights float16),
// what the server holds once the model is loaded and after sustained concurrent traffic, beside a bare onnxruntime-node
// session on the same file, how fast it decodes (1 and 8 streams), and what two replicas serving the same model share. The fp32 and int8 files are the GPT-2-small-shaped bench model's (tied head);
// q4 and fp16 come from a Llama of the same layer shape (the fixture generator writes those dtypes for Llama only).
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { markdownTable } from "./table.ts";
import { BENCH_MODELS_DIR } from "./models.ts";
import { REPO_ROOT, type ServerTarget } from "./server.ts";
import { DISTINCT_TOKENS, measureReplicas, measureServer, measureSession, warmCache, type ReplicaMemory, type ServerMemoryRow, type SessionMemory, type SweepShape } from "./server-memory.ts";

export const MEMORY_FILES = ["gpt2-fp32", "gpt2-fp32-shared", "gpt2-int8", "llama-fp32", "llama-int8", "llama-q4", "llama-fp16", "llama-fp16-kept"] as const;
/** `tiny`: the 0.2 MiB test model, whose cost is the server's and ONNX Runtime's own. */
export type MemoryFileKey = (typeof MEMORY_FILES)[number] | "tiny";

/** What `bun run bench` measures: one file per dtype the issue names. */
export const BENCH_MEMORY_FILES: readonly MemoryFileKey[] = ["gpt2-fp32", "gpt2-fp32-shared", "gpt2-int8", "llama-q4", "llama-fp16", "llama-fp16-kept"];
/** Shorter than 16 rounds of 8 × 128 tokens to keep the bench within minutes on 2 cores; the CLI takes --rounds. */
export const BENCH_MEMORY_SWEEP: SweepShape = { rounds: 4, streams: 8, tokens: 64 };
/** The KV budget the memory servers run with unless --server-args sets one: traffic's growth is checked against it. */
export const BENCH_KV_BUDGET = "256MiB";

export interface MemoryFile {
  key: MemoryFileKey;
  /** Fixture id (folder under bench/models). */
  fixture: "gpt2-small-bench" | "llama-small-bench" | "tiny-gpt2";
  dir: string;
  file: string;
  dtype: "fp32" | "q8" | "q4" | "fp16";
  /** The id the server serves it under. */
  served: string;
  fileMiB: number;
  /** Server flags this row runs with besides the table's own (the same file served another way). */
  serverArgs?: readonly string[];
}

const FILES: Record<MemoryFileKey, Omit<MemoryFile, "key" | "dir" | "fileMiB">> = {
  tiny: { fixture: "tiny-gpt2", file: "model.onnx", dtype: "fp32", served: "mem-tiny" },
  "gpt2-fp32": { fixture: "gpt2-small-bench", file: "model.onnx", dtype: "fp32", served: "mem-gpt2-fp32" },
  // The same fp32 file with its tied head sharing the embedding table instead of a packed copy of it.
  "gpt2-fp32-shared": { fixture: "gpt2-small-bench", file: "model.onnx", dtype: "fp32", served: "mem-gpt2-fp32-shared", serverArgs: ["--tied-head", "shared"] },
  "gpt2-int8": { fixture: "gpt2-small-bench", file: "model_quantized.onnx", dtype: "q8", served: "mem-gpt2-int8" },
  "llama-fp32": { fixture: "llama-small-bench", file: "model.onnx", dtype: "fp32", served: "mem-llama-fp32" },
  "llama-int8": { fixture: "llama-small-bench", file: "model_quantized.onnx", dtype: "q8", served: "mem-llama-int8" },
  "llama-q4": { fixture: "llama-small-bench", file: "model_q4.onnx", dtype: "q4", served: "mem-llama-q4" },
  "llama-fp16": { fixture: "llama-small-bench", file: "model_fp16.onnx", dtype: "fp16", served: "mem-llama-fp16" },
  // The same fp16 file with its matrix weights kept fp16 in memory (widened at each step instead of once at load).
  "llama-fp16-kept": { fixture: "llama-small-bench", file: "model_fp16.onnx", dtype: "fp16", served: "mem-llama-fp16-kept", serverArgs: ["--fp16-weights", "float16"] },
};

export function memoryFile(key: MemoryFileKey): MemoryFile {
  const f = FILES[key];
  const dir = key === "tiny" ? join(REPO_ROOT, "models", f.fixture) : join(BENCH_MODELS_DIR, f.fixture);
  let fileMiB = Number.NaN;
  try {
    fileMiB = Math.round((statSync(join(dir, "onnx", f.file)).size / 2 ** 20) * 10) / 10;
  } catch {
    // Not generated yet: ensureMemoryFiles makes it.
  }
  return { key, dir, fileMiB, ...f };
}

/**
 * Server flags that serve exactly this file under its own id (a registry file with every memory entry whose folder
 * exists: the server refuses a registry naming a folder that does not, and --files may have generated only some).
 */
export function memoryServerArgs(f: MemoryFile): string[] {
  const registry = join(BENCH_MODELS_DIR, ".registry", "memory.json");
  mkdirSync(join(BENCH_MODELS_DIR, ".registry"), { recursive: true });
  const models = (["tiny", ...MEMORY_FILES] as const)
    .map((k) => memoryFile(k))
    .filter((m) => existsSync(join(m.dir, "config.json")))
    .map((m) => ({ name: m.served, path: m.dir, dtype: m.dtype }));
  writeFileSync(registry, `${JSON.stringify({ models }, null, 2)}\n`);
  return ["--models-dir", BENCH_MODELS_DIR, "--registry", registry, "--allow-models", f.served, ...(f.serverArgs ?? [])];
}

/** Generates the fixtures the keys need (the generator skips what is up to date). */
export async function ensureMemoryFiles(keys: readonly MemoryFileKey[], log: (line: string) => void): Promise<void> {
  // A folder that has every file is used as it is: the generator's own up-to-date check rebuilds the model in memory
  // to compare (minutes on a busy 2-core machine). Delete the folder to regenerate it.
  const missing = keys.filter((k) => k !== "tiny").filter((k) => !existsSync(join(BENCH_MODELS_DIR, FILES[k].fixture, "onnx", FILES[k].file)));
  const fixtures = [...new Set(missing.map((k) => FILES[k].fixture))];
  if (fixtures.length === 0) return;
  log(`checking ${fixtures.join(", ")} in ${BENCH_MODELS_DIR} (generated when missing or stale, ≈ 30–70 s each)`);
  const proc = Bun.spawn([process.execPath, join(REPO_ROOT, "scripts", "make-models.ts"), "--out", BENCH_MODELS_DIR, "--only", fixtures.join(",")], {
    cwd: REPO_ROOT,
    stdout: "pipe",
    stderr: "inherit",
  });
  for await (const chunk of proc.stdout) process.stderr.write(chunk);
  if ((await proc.exited) !== 0) throw new Error("generating the memory bench models failed");
}

export interface MemoryTableOptions {
  keys: readonly MemoryFileKey[];
  target: ServerTarget;
  extra: string[];
  sweep: SweepShape;
  /** Measure two replicas of this file too. */
  replicas?: MemoryFileKey;
  threads: number;
  log: (line: string) => void;
}

export interface MemoryTableData {
  /** A bare session on the tiny test model: ONNX Runtime's own cost in a process, whatever the model. */
  runtimeMiB: number;
  /** The server serving the tiny test model after one request, above the idle server: its own cost and ORT's. */
  serverOwnMiB: number;
  rows: Array<{ server: ServerMemoryRow; session: SessionMemory }>;
  replicas?: { file: MemoryFileKey; fileMiB: number; processes: ReplicaMemory[]; weightsShared: boolean };
}

const x = (v: number, file: number) => `${v.toFixed(0)} MiB (${(v / file).toFixed(2)}×)`;

export function renderMemoryTable(d: MemoryTableData): string {
  const rows = d.rows.map(({ server: r, session: s }) => {
    const loaded = r.loadedMiB - r.startMiB;
    const growth = r.sweepMiB - r.loadedMiB;
    const budget = r.kvLimitMiB === null ? "none" : `${r.kvLimitMiB.toFixed(0)} MiB`;
    // What traffic added in all, the distinct tokens' prompts included.
    const total = Math.max(r.sweepMiB, r.distinctMiB ?? 0) - r.loadedMiB;
    const within = r.kvLimitMiB === null ? "–" : total <= r.kvLimitMiB ? "yes" : "NO";
    return [
      `${r.file} (${memoryFile(r.file).file}${memoryFile(r.file).serverArgs ? `, ${memoryFile(r.file).serverArgs!.join(" ")}` : ""})`,
      `${r.fileMiB.toFixed(1)} MiB`,
      x(s.loadedMiB, r.fileMiB),
      x(s.loadedMiB - d.runtimeMiB, r.fileMiB),
      x(loaded, r.fileMiB),
      x(loaded - d.serverOwnMiB, r.fileMiB),
      `${(r.mixedPrefillMiB - r.startMiB).toFixed(0)} / peak ${(r.mixedPrefillPeakMiB - r.startMiB).toFixed(0)} MiB`,
      `${(r.sweepMiB - r.startMiB).toFixed(0)} MiB (+${growth.toFixed(0)})`,
      r.distinctMiB === null ? "–" : `${(r.distinctMiB - r.startMiB).toFixed(0)} MiB (+${(r.distinctMiB - r.sweepMiB).toFixed(0)})`,
      `${budget} (${within})`,
      r.decodeTps === null || r.decode8Tps === null ? "–" : `${r.decodeTps.toFixed(1)} / ${r.decode8Tps.toFixed(1)}`,
    ];
  });
  const sweep = d.rows[0]?.server.sweep;
  const lines = [
    markdownTable(
      [
        "file", "size", "bare ORT session", "– ORT's own", "gpt3dev loaded", "– server's own", "after 420 + 7×1 prefill", "after the sweep (+ since loaded)",
        `after ${DISTINCT_TOKENS} distinct tokens (+ since the sweep)`, "KV budget (growth within)", "decode tok/s, 1 / 8 streams",
      ],
      rows,
      ["left", "right", "right", "right", "right", "right", "right", "right", "right", "right", "right"],
    ),
    "",
    `RSS above an empty process (bare session) or the idle server (gpt3dev), 1.5 s after each phase; "– ORT's own" leaves out what a ` +
      `session on the 0.2 MiB tiny model costs (${d.runtimeMiB.toFixed(0)} MiB: ONNX Runtime's code pages and allocators), ` +
      `"– server's own" what the server serving that tiny model holds after one request (${d.serverOwnMiB.toFixed(0)} MiB: ` +
      `ORT's part, the engine worker's heap, tokenizer). ` +
      (sweep ? `Sweep: ${sweep.rounds} rounds of ${sweep.streams} concurrent ${sweep.tokens}-token streams. ` : "") +
      `Distinct tokens: then ${DISTINCT_TOKENS / 512} prompts of 512 different token ids spread over the vocabulary, one token each. ` +
      "Decode: one greedy stream of 64 tokens once the model is loaded, then 8 concurrent ones (end of text suppressed), from the first token to the last.",
  ];
  const widened = d.rows.find((r) => r.server.file === "llama-fp16")?.server;
  const kept = d.rows.find((r) => r.server.file === "llama-fp16-kept")?.server;
  if (widened && kept) {
    const ratio = (a: number | null, b: number | null) => (a === null || b === null ? "–" : `${(a / b).toFixed(2)}×`);
    lines.push(
      "",
      `fp16 weights kept fp16 against widened at load, same file, side by side: loaded ${ratio(kept.loadedMiB - kept.startMiB, widened.loadedMiB - widened.startMiB)} the memory, ` +
        `decode ${ratio(kept.decodeTps, widened.decodeTps)} the speed of one stream and ${ratio(kept.decode8Tps, widened.decode8Tps)} of eight.`,
    );
  }
  if (d.replicas) {
    const r = d.replicas;
    const each = r.processes.map((p, i) => `replica ${i + 1}: model ${p.modelMiB.toFixed(0)} MiB, RSS ${p.rss.toFixed(0)}, PSS ${p.pss.toFixed(0)}, anonymous ${p.anon.toFixed(0)}, shared with another process ${p.shared.toFixed(0)} MiB (${p.sharedSinceIdle >= 0 ? "+" : ""}${p.sharedSinceIdle.toFixed(0)} since idle)`);
    lines.push(
      "",
      `Two replicas serving ${r.file} (${r.fileMiB.toFixed(0)} MiB file): ${each.join("; ")}. ` +
        (r.weightsShared
          ? "Most weight pages are shared between them (mapped from the data files in the cache: the pre-packed weights' and the rewritten model's)."
          : Math.min(...r.processes.map((p) => p.sharedSinceIdle)) >= 0.2 * r.fileMiB
            ? "Part of the weights is shared (the ones ONNX Runtime keeps as they are, mapped from the rewritten model's data file); the pre-packed ones are each process's own (--packed-weights heap, or no packed copy)."
            : "Weight pages are NOT shared: ONNX Runtime reads them into each process's own anonymous memory (what is shared is code and libraries)."),
    );
  }
  return lines.join("\n");
}

export async function memoryTable(
  o: MemoryTableOptions,
  ensure: (keys: readonly MemoryFileKey[], log: (line: string) => void) => Promise<void> = ensureMemoryFiles,
): Promise<{ data: MemoryTableData; markdown: string }> {
  await ensure(o.keys, o.log);
  o = { ...o, extra: o.extra.includes("--kv-cache-memory") ? o.extra : [...o.extra, "--kv-cache-memory", BENCH_KV_BUDGET] };
  const runtime = await measureSession(join(REPO_ROOT, "models", "tiny-gpt2"), "model.onnx", o.threads);
  const tiny = await measureServer(memoryFile("tiny"), o.target, o.extra, { rounds: 0, streams: 0, tokens: 0 });
  const data: MemoryTableData = { runtimeMiB: runtime.loadedMiB, serverOwnMiB: Math.round((tiny.loadedMiB - tiny.startMiB) * 10) / 10, rows: [] };
  for (const key of o.keys) {
    const f = memoryFile(key);
    o.log(`memory: ${key} (${f.fileMiB} MiB): bare session, then the server`);
    const session = await measureSession(f.dir, f.file, o.threads);
    await warmCache(f, o.target, o.extra);
    const server = await measureServer(f, o.target, o.extra, o.sweep);
    data.rows.push({ server, session });
  }
  if (o.replicas) {
    const f = memoryFile(o.replicas);
    o.log(`memory: two replicas of ${f.key}`);
    const processes = await measureReplicas(f, o.target, o.extra);
    // Pages shared beyond those two idle servers already share (the executable, libraries): weights, if anything.
    data.replicas = { file: f.key, fileMiB: f.fileMiB, processes, weightsShared: processes.every((p) => p.sharedSinceIdle >= 0.5 * f.fileMiB) };
  }
  return { data, markdown: renderMemoryTable(data) };
}

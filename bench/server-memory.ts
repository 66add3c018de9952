// Server memory per model file: RSS (and its peak) once the model is loaded, after one long prompt prefilled next to
// seven one-token prompts, and after a sweep of concurrent streams, beside a bare onnxruntime-node session on the
// same file; and two replicas serving the same model (PSS: pages shared between processes count half in each).
// Each row starts a fresh server. `bun run bench` prints the same table (bench/memory-table.ts).
//
//   bun bench/server-memory.ts [--files gpt2-fp32,gpt2-int8,llama-q4,llama-fp16] [--server-ref REF] [--binary]
//                              [--server-args "..."] [--rounds 4] [--tokens 64] [--replicas]
//                              → a Markdown table on stdout, JSON on the last line
import { join } from "node:path";
import { loadTokenizer } from "../src/runtime/model-tokenizer.ts";
import { ensureMemoryFiles, MEMORY_FILES, memoryServerArgs, memoryTable, type MemoryFile, type MemoryFileKey } from "./memory-table.ts";
import { readDecoderConfig } from "../src/engine/model-config.ts";
import { PROMPT } from "./models.ts";
import { REPO_ROOT, serverTarget, startBenchServer, type BenchServer, type ServerTarget } from "./server.ts";

export interface ProcessMemory {
  rss: number;
  peak: number;
  anon: number;
  pss: number;
  /** Resident pages this process shares with another (Shared_Clean + Shared_Dirty of smaps_rollup). */
  shared: number;
}

/** VmRSS, VmHWM, RssAnon and, from smaps_rollup, PSS and shared pages of a process, in MiB. */
export async function memoryOf(pid: number): Promise<ProcessMemory> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, "m").exec(text)?.[1] ?? Number.NaN);
  let rollup = "";
  try {
    rollup = await Bun.file(`/proc/${pid}/smaps_rollup`).text();
  } catch {
    // Not readable here: PSS stays unknown.
  }
  const mib = (v: number) => Math.round((v / 1024) * 10) / 10;
  return {
    rss: mib(kb(status, "VmRSS")),
    peak: mib(kb(status, "VmHWM")),
    anon: mib(kb(status, "RssAnon")),
    pss: mib(kb(rollup, "Pss")),
    shared: mib(kb(rollup, "Shared_Clean") + kb(rollup, "Shared_Dirty")),
  };
}

async function settledMemory(pid: number): Promise<ProcessMemory> {
  await Bun.sleep(1500);
  return memoryOf(pid);
}

async function complete(server: BenchServer, model: string, prompt: number[], maxTokens: number, stream = false): Promise<void> {
  const response = await fetch(`${server.baseURL}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, prompt, max_tokens: maxTokens, temperature: 0, stream }),
  });
  if (!response.ok) throw new Error(`completion failed: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

const DECODE_TOKENS = 64;
/** Different tokens the last phase reads, in prompts of DISTINCT_PROMPT tokens. */
export const DISTINCT_TOKENS = 4096;
const DISTINCT_PROMPT = 512;

/** One greedy stream: when its first and last tokens arrived and how many it generated (the server's usage figure). */
async function timedStream(server: BenchServer, f: MemoryFile, prompt: number[], tokens: number): Promise<{ first: number; last: number; generated: number }> {
  const bias = Object.fromEntries(readDecoderConfig(f.dir).eosIds.map((id) => [String(id), -100]));
  const response = await fetch(`${server.baseURL}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: f.served, prompt, max_tokens: tokens, temperature: 0, stream: true, stream_options: { include_usage: true }, logit_bias: bias }),
  });
  if (!response.ok || !response.body) throw new Error(`decode run failed: ${response.status} ${await response.text()}`);
  let first = 0;
  let last = 0;
  let generated = 0;
  let pending = "";
  const decoder = new TextDecoder();
  for await (const part of response.body) {
    pending += decoder.decode(part, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("data: {")) continue;
      const event = JSON.parse(line.slice(6)) as { choices?: unknown[]; usage?: { completion_tokens?: number } | null };
      if (event.usage?.completion_tokens) generated = event.usage.completion_tokens;
      if (event.choices && event.choices.length > 0) {
        last = performance.now();
        if (first === 0) first = last;
      }
    }
  }
  if (generated < 2 || last <= first) throw new Error(`decode run streamed ${generated} tokens`);
  return { first, last, generated };
}

/**
 * Decode tokens/s of `streams` concurrent greedy streams of `tokens` tokens (all streams' tokens after their first,
 * over the time from the first stream's first token to the last stream's last); the model's end-of-text ids are
 * suppressed with logit_bias, so every run decodes the same count.
 */
async function decodeRate(server: BenchServer, f: MemoryFile, prompt: number[], tokens: number, streams: number): Promise<number> {
  const runs = await Promise.all(Array.from({ length: streams }, (_, i) => timedStream(server, f, [...prompt.slice(i), prompt[0]!], tokens)));
  const seconds = (Math.max(...runs.map((r) => r.last)) - Math.min(...runs.map((r) => r.first))) / 1000;
  return Math.round((runs.reduce((n, r) => n + r.generated - 1, 0) / seconds) * 10) / 10;
}

/** The KV budget the server gives the model, from its listing (`memory.kv_cache_limit_bytes`), in MiB. */
async function kvLimitMiB(server: BenchServer, model: string): Promise<number | null> {
  const response = await fetch(`${server.baseURL}/v1/models/${model}`);
  const body = (await response.json()) as { memory?: { kv_cache_limit_bytes?: number | null } };
  const limit = body.memory?.kv_cache_limit_bytes;
  return typeof limit === "number" ? Math.round((limit / 2 ** 20) * 10) / 10 : null;
}

export interface SweepShape {
  rounds: number;
  streams: number;
  tokens: number;
}

export interface ServerMemoryRow {
  file: MemoryFileKey;
  fileMiB: number;
  /** Idle server before the model loads (the model loads on the first request). */
  startMiB: number;
  loadedMiB: number;
  /** One 420-token prompt prefilled next to seven one-token prompts: RSS afterwards and the peak. */
  mixedPrefillMiB: number;
  mixedPrefillPeakMiB: number;
  /** After the sweep (`sweep` rounds of concurrent streams). */
  sweepMiB: number;
  /** After that, prompts reading DISTINCT_TOKENS different tokens spread over the vocabulary (null without traffic). */
  distinctMiB: number | null;
  peakMiB: number;
  kvLimitMiB: number | null;
  sweep: SweepShape;
  /** Decode tokens/s of one stream, and of 8 concurrent ones, once loaded (null when the row runs no traffic). */
  decodeTps: number | null;
  decode8Tps: number | null;
}

export async function promptFor(f: MemoryFile): Promise<number[]> {
  const tokenizer = await loadTokenizer(f.dir);
  return Array.from(tokenizer.encode(PROMPT, { add_special_tokens: false }));
}

/** One fresh server serving `f`: RSS started, loaded, after the mixed prefill and after the sweep. */
export async function measureServer(f: MemoryFile, target: ServerTarget, extra: string[], sweep: SweepShape): Promise<ServerMemoryRow> {
  const ids = await promptFor(f);
  const server = await startBenchServer(target, [...memoryServerArgs(f), ...extra]);
  try {
    const start = await settledMemory(server.pid);
    await complete(server, f.served, ids.slice(0, 4), 1);
    const loaded = await settledMemory(server.pid);
    const decodeTps = sweep.streams > 0 ? await decodeRate(server, f, ids, DECODE_TOKENS, 1) : null;
    const decode8Tps = sweep.streams > 0 ? await decodeRate(server, f, ids, DECODE_TOKENS, 8) : null;
    const long = Array.from({ length: 420 }, (_, i) => ids[i % ids.length]!);
    if (sweep.streams > 0) await Promise.all([complete(server, f.served, long, 1), ...Array.from({ length: 7 }, (_, i) => complete(server, f.served, [ids[i % ids.length]!], 1))]);
    const mixed = sweep.streams > 0 ? await settledMemory(server.pid) : loaded;
    for (let round = 0; round < sweep.rounds; round++) {
      await Promise.all(Array.from({ length: sweep.streams }, () => complete(server, f.served, ids, sweep.tokens, true)));
    }
    const after = sweep.streams > 0 ? await settledMemory(server.pid) : loaded;
    let distinct: ProcessMemory | null = null;
    if (sweep.streams > 0) {
      // Traffic reads many different tokens over time: their embedding rows, wherever the model keeps its table.
      const vocab = readDecoderConfig(f.dir).vocabSize;
      for (let p = 0; p < DISTINCT_TOKENS / DISTINCT_PROMPT; p++) {
        await complete(server, f.served, Array.from({ length: DISTINCT_PROMPT }, (_, i) => ((p * DISTINCT_PROMPT + i) * 7919) % vocab), 1);
      }
      distinct = await settledMemory(server.pid);
    }
    return {
      file: f.key,
      fileMiB: f.fileMiB,
      startMiB: start.rss,
      loadedMiB: loaded.rss,
      mixedPrefillMiB: mixed.rss,
      mixedPrefillPeakMiB: mixed.peak,
      sweepMiB: after.rss,
      distinctMiB: distinct?.rss ?? null,
      peakMiB: (distinct ?? after).peak,
      kvLimitMiB: await kvLimitMiB(server, f.served),
      sweep,
      decodeTps,
      decode8Tps,
    };
  } finally {
    await server.stop();
  }
}

/**
 * Serves one request on a server of its own and stops it: the first load of a model writes its rewritten and optimized
 * graphs to the server's cache, and what is measured afterwards is what every later start costs.
 */
export async function warmCache(f: MemoryFile, target: ServerTarget, extra: string[]): Promise<void> {
  const ids = await promptFor(f);
  const server = await startBenchServer(target, [...memoryServerArgs(f), ...extra]);
  try {
    await complete(server, f.served, ids.slice(0, 4), 1);
  } finally {
    await server.stop();
  }
}

export interface ReplicaMemory extends ProcessMemory {
  /** RSS minus the idle server's before loading. */
  modelMiB: number;
  /** Shared pages minus the idle server's (two idle servers already share the executable and its libraries). */
  sharedSinceIdle: number;
}

/** Two servers on the same model file, each after one 8-token request: RSS, PSS and shared pages of each. */
export async function measureReplicas(f: MemoryFile, target: ServerTarget, extra: string[]): Promise<ReplicaMemory[]> {
  const ids = await promptFor(f);
  const servers = [await startBenchServer(target, [...memoryServerArgs(f), ...extra]), await startBenchServer(target, [...memoryServerArgs(f), ...extra])];
  try {
    const idle = await Promise.all(servers.map((s) => settledMemory(s.pid)));
    for (const s of servers) await complete(s, f.served, ids, 8);
    const loaded = await Promise.all(servers.map((s) => settledMemory(s.pid)));
    const round = (v: number) => Math.round(v * 10) / 10;
    return loaded.map((m, i) => ({ ...m, modelMiB: round(m.rss - idle[i]!.rss), sharedSinceIdle: round(m.shared - idle[i]!.shared) }));
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

export interface SessionMemory {
  /** RSS a bare session adds to an empty process, MiB. */
  loadedMiB: number;
  anonMiB: number;
}

/** A bare onnxruntime-node session on the file (the server's session options, no rewrite), in a process of its own. */
export async function measureSession(dir: string, file: string, threads: number): Promise<SessionMemory> {
  const job = { modelDir: dir, file, threads, load: "path", longPrompt: 0, decodeSteps: 0, trim: true };
  const proc = Bun.spawn([process.execPath, join(REPO_ROOT, "bench", "session-memory.ts"), JSON.stringify(job)], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`session-memory on ${file} failed: ${err.trim().split("\n").at(-1)}`);
  const r = JSON.parse(out.trim().split("\n").at(-1)!) as { baseline: { rssMiB: number; anonMiB: number }; loaded: { rssMiB: number; anonMiB: number } };
  return { loadedMiB: Math.round((r.loaded.rssMiB - r.baseline.rssMiB) * 10) / 10, anonMiB: Math.round((r.loaded.anonMiB - r.baseline.anonMiB) * 10) / 10 };
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const value = (flag: string) => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const keys = (value("--files") ?? MEMORY_FILES.join(",")).split(",") as MemoryFileKey[];
  for (const k of keys) if (!(MEMORY_FILES as readonly string[]).includes(k)) throw new Error(`unknown file ${k} (known: ${MEMORY_FILES.join(", ")})`);
  const extra = (value("--server-args") ?? "").split(" ").filter(Boolean);
  const target = await serverTarget({ binary: argv.includes("--binary"), ref: value("--server-ref") });
  const sweep = { rounds: Number(value("--rounds") ?? 4), streams: 8, tokens: Number(value("--tokens") ?? 64) };
  const result = await memoryTable({ keys, target, extra, sweep, replicas: argv.includes("--replicas") ? keys[0] : undefined, threads: navigator.hardwareConcurrency, log: (l) => console.error(l) }, ensureMemoryFiles);
  console.log(`server: ${target.label} ${extra.join(" ")}\n\n${result.markdown}`);
  console.log(JSON.stringify(result.data));
}

// Server memory on the bench models: RSS (and its peak) once the model is loaded, after one long prompt prefilled
// next to seven one-token prompts, and after a sweep of concurrent streams; and PSS of two replicas serving the same
// model (pages the runtime shares between processes count half in each). Each row starts a fresh server.
//
//   bun bench/server-memory.ts [--models bench-fp32,bench-int8] [--server-ref REF] [--binary] [--server-args "..."]
//                              [--replicas]                     → a Markdown table on stdout, JSON on the last line
import { statSync } from "node:fs";
import { join } from "node:path";
import { MODEL_KEYS, type ModelKey } from "./args.ts";
import { benchModel, ensureModels, promptIds } from "./models.ts";
import { serverTarget, startBenchServer, type BenchServer } from "./server.ts";

const MiB = 1024 * 1024;

/** VmRSS, VmHWM (peak RSS) and, from smaps_rollup, PSS of a process, in MiB. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number; pss: number }> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, "m").exec(text)?.[1] ?? Number.NaN);
  let pss = Number.NaN;
  try {
    pss = kb(await Bun.file(`/proc/${pid}/smaps_rollup`).text(), "Pss");
  } catch {
    // Not readable here: PSS stays unknown.
  }
  const mib = (v: number) => Math.round((v / 1024) * 10) / 10;
  return { rss: mib(kb(status, "VmRSS")), peak: mib(kb(status, "VmHWM")), pss: mib(pss) };
}

async function settledMemory(pid: number) {
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

export interface ServerMemoryRow {
  model: ModelKey;
  fileMiB: number;
  startMiB: number;
  loadedMiB: number;
  /** One 420-token prompt prefilled next to seven one-token prompts: RSS afterwards and the peak. */
  mixedPrefillMiB: number;
  mixedPrefillPeakMiB: number;
  /** After 4 rounds of 8 concurrent 64-token streams. */
  sweepMiB: number;
  peakMiB: number;
}

async function measure(key: ModelKey, target: Awaited<ReturnType<typeof serverTarget>>, extra: string[]): Promise<ServerMemoryRow> {
  const m = benchModel(key);
  const ids = await promptIds(m);
  const server = await startBenchServer(target, [...m.serverArgs, ...extra]);
  try {
    const start = await settledMemory(server.pid);
    await complete(server, m.serverModel, ids.slice(0, 4), 1);
    const loaded = await settledMemory(server.pid);
    const long = Array.from({ length: 420 }, (_, i) => ids[i % ids.length]!);
    await Promise.all([complete(server, m.serverModel, long, 1), ...Array.from({ length: 7 }, (_, i) => complete(server, m.serverModel, [ids[i]!], 1))]);
    const mixed = await settledMemory(server.pid);
    for (let round = 0; round < 4; round++) {
      await Promise.all(Array.from({ length: 8 }, () => complete(server, m.serverModel, ids, 64, true)));
    }
    const sweep = await settledMemory(server.pid);
    const file = statSync(join(m.dir, "onnx", m.file)).size / MiB;
    return {
      model: key,
      fileMiB: Math.round(file * 10) / 10,
      startMiB: start.rss,
      loadedMiB: loaded.rss,
      mixedPrefillMiB: mixed.rss,
      mixedPrefillPeakMiB: mixed.peak,
      sweepMiB: sweep.rss,
      peakMiB: sweep.peak,
    };
  } finally {
    await server.stop();
  }
}

/** Two servers on the same model file, each after one request: RSS and PSS of each. */
async function replicas(key: ModelKey, target: Awaited<ReturnType<typeof serverTarget>>, extra: string[]) {
  const m = benchModel(key);
  const ids = await promptIds(m);
  const servers = [await startBenchServer(target, [...m.serverArgs, ...extra]), await startBenchServer(target, [...m.serverArgs, ...extra])];
  try {
    for (const s of servers) await complete(s, m.serverModel, ids, 8);
    return await Promise.all(servers.map((s) => settledMemory(s.pid)));
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const value = (flag: string) => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const models = (value("--models") ?? "bench-fp32,bench-int8").split(",") as ModelKey[];
  for (const k of models) if (!MODEL_KEYS.includes(k)) throw new Error(`unknown model ${k}`);
  const extra = (value("--server-args") ?? "").split(" ").filter(Boolean);
  const target = await serverTarget({ binary: argv.includes("--binary"), ref: value("--server-ref") });
  await ensureModels(models, (line) => console.error(line));
  const rows: ServerMemoryRow[] = [];
  const pss: Record<string, Array<{ rss: number; pss: number }>> = {};
  for (const key of models) {
    console.error(`measuring ${key} on ${target.label}`);
    rows.push(await measure(key, target, extra));
    if (argv.includes("--replicas")) pss[key] = await replicas(key, target, extra);
  }
  const ratio = (v: number, r: ServerMemoryRow) => `${(v - r.startMiB).toFixed(0)} MiB (${((v - r.startMiB) / r.fileMiB).toFixed(2)}×)`;
  console.log(`server: ${target.label} ${extra.join(" ")}\n`);
  console.log("| model | file | loaded (× file) | after 420 + 7×1 prefill | its peak | after 8-stream sweep | peak |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.model} | ${r.fileMiB} MiB | ${ratio(r.loadedMiB, r)} | ${ratio(r.mixedPrefillMiB, r)} | ${ratio(r.mixedPrefillPeakMiB, r)} | ${ratio(r.sweepMiB, r)} | ${ratio(r.peakMiB, r)} |`,
    );
  }
  for (const [key, list] of Object.entries(pss)) console.log(`\n${key}, two replicas: ${list.map((p) => `RSS ${p.rss} MiB, PSS ${p.pss} MiB`).join("; ")}`);
  console.log(JSON.stringify({ server: target.label, args: extra, rows, replicas: pss }));
}

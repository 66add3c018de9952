/**
 * `bun run bench:startup` — how fast the compiled executable comes up and how much memory it holds idle.
 *
 *   start-up  exec of dist/gpt3dev → first `GET /healthz` 200, median of --runs runs (default 7)
 *   idle RSS  VmRSS of that process (/proc/PID/status) once it answers and has settled, before any model is loaded
 *
 * Targets: ≤ 150 ms and ≤ 80 MiB. Exits 1 when a target is missed, unless --no-fail (it then only reports).
 * Run `bun run build` first. Linux only (reads /proc).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { freePort, pathWithoutBunOrNode } from "../test/e2e/harness.ts";

const TARGET_START_MS = 150;
const TARGET_RSS_MB = 80;
// Long enough for anything lazy the server does right after listening, short next to a real idle period.
const SETTLE_MS = 500;
const TIMEOUT_MS = 20_000;

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    runs: { type: "string", default: "7" },
    binary: { type: "string", default: resolve(import.meta.dir, "../dist/gpt3dev") },
    "no-fail": { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a positive integer, got ${values.runs}`);
const binary = resolve(values.binary);
if (!existsSync(binary)) throw new Error(`${binary} does not exist: run \`bun run build\` first`);

interface Sample {
  startMs: number;
  rssMb: number;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) / 1024;
}

async function healthy(url: string): Promise<boolean> {
  try {
    // A new connection each time: a pooled one would not tell when the listener opened.
    const response = await fetch(url, { keepalive: false, signal: AbortSignal.timeout(1000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

async function once(): Promise<Sample> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}/healthz`;
  const started = performance.now();
  const proc = Bun.spawn([binary, "--port", String(port), "--host", "127.0.0.1"], {
    cwd: "/",
    env: { PATH: pathWithoutBunOrNode(), HOME: "/nonexistent" },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "inherit",
  });
  try {
    while (!(await healthy(url))) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${binary} exited with ${proc.exitCode ?? proc.signalCode}`);
      if (performance.now() - started > TIMEOUT_MS) throw new Error(`no /healthz 200 within ${TIMEOUT_MS} ms`);
      await Bun.sleep(1);
    }
    const startMs = performance.now() - started;
    await Bun.sleep(SETTLE_MS);
    return { startMs, rssMb: rssMb(proc.pid) };
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const samples: Sample[] = [];
for (let i = 0; i < runs; i++) samples.push(await once());

const startMedian = median(samples.map((s) => s.startMs));
const rssMedian = median(samples.map((s) => s.rssMb));
const rows = [
  ["metric", "median", "min", "max", "target", "met"],
  [
    "exec → /healthz 200",
    `${startMedian.toFixed(0)} ms`,
    `${Math.min(...samples.map((s) => s.startMs)).toFixed(0)} ms`,
    `${Math.max(...samples.map((s) => s.startMs)).toFixed(0)} ms`,
    `≤ ${TARGET_START_MS} ms`,
    startMedian <= TARGET_START_MS ? "yes" : "NO",
  ],
  [
    "idle RSS (no model loaded)",
    `${rssMedian.toFixed(1)} MiB`,
    `${Math.min(...samples.map((s) => s.rssMb)).toFixed(1)} MiB`,
    `${Math.max(...samples.map((s) => s.rssMb)).toFixed(1)} MiB`,
    `≤ ${TARGET_RSS_MB} MiB`,
    rssMedian <= TARGET_RSS_MB ? "yes" : "NO",
  ],
];
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(" | ")} |`;
console.log(`${join(binary)}: ${runs} runs`);
console.log(line(rows[0]!));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of rows.slice(1)) console.log(line(r));

const met = startMedian <= TARGET_START_MS && rssMedian <= TARGET_RSS_MB;
if (!met && !values["no-fail"]) process.exit(1);

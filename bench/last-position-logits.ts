// Peak server RSS of one prefill that holds a long prompt beside seven one-token prompts, on a model with GPT-2's
// 50,257-token vocabulary, with and without the last-position logits: with them the graph computes logits for each
// row's last position only (the load-time rewrite adds `num_logits_to_keep`); without them (`--cache-dir none`: the
// model opens as it is, no rewrite) the run materialises [rows, positions, vocab] logits and keeps the last row of each.
// The model is gpt2-vocab (1 layer × 8 wide), so the logits are nearly all the memory a prefill touches. Each side
// starts a fresh server, loads the model with a short request, resets the kernel's peak-RSS mark
// (/proc/PID/clear_refs), then sends the one request and reads VmHWM.
//
//   bun bench/last-position-logits.ts [--binary] [--server-ref REF]   → a Markdown table on stdout, JSON on the last line
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, serverTarget, startBenchServer, type BenchServer, type ServerTarget } from "./server.ts";

const MODEL = "gpt2-vocab";
const LONG = 420;
const SHORT = 7;
const MiB = 1024 * 1024;

export interface LastPositionSide {
  /** VmRSS just before the request, MiB. */
  beforeMiB: number;
  /** VmHWM after it (peak since the reset just before), MiB. */
  peakMiB: number;
  /** What the request answered, to check both sides computed the same thing. */
  texts: string[];
}

export interface LastPositionResult {
  model: string;
  vocab: number;
  prompts: string;
  /** Logits bytes one [8, positions, vocab] float32 run would hold for the longest padded run (positions = LONG - 256). */
  fullLogitsMiB: number;
  lastOnly: LastPositionSide;
  allPositions: LastPositionSide;
  /** The kernel let the bench reset the peak mark; otherwise the peaks include the load. */
  peakReset: boolean;
}

function statusKb(pid: number, key: string): number {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, "m").exec(text)?.[1] ?? Number.NaN);
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0: writing 5 to clear_refs); false when not allowed. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

async function complete(server: BenchServer, prompt: number[] | number[][], maxTokens: number): Promise<string[]> {
  const response = await fetch(`${server.baseURL}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, prompt, max_tokens: maxTokens, temperature: 0 }),
  });
  if (!response.ok) throw new Error(`completion failed: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { choices: { index: number; text: string }[] };
  return body.choices.sort((a, b) => a.index - b.index).map((c) => c.text);
}

async function side(target: ServerTarget, cacheDir: string, prompts: number[][]): Promise<LastPositionSide & { reset: boolean }> {
  const server = await startBenchServer(target, ["--models-dir", join(REPO_ROOT, "models"), "--allow-models", MODEL, "--cache-dir", cacheDir, "--prefix-cache-mb", "0"]);
  try {
    await complete(server, [prompts[1]!], 2);
    await Bun.sleep(500);
    const reset = resetPeak(server.pid);
    const beforeMiB = statusKb(server.pid, "VmRSS") / 1024;
    const texts = await complete(server, prompts, 1);
    const peakMiB = statusKb(server.pid, "VmHWM") / 1024;
    return { beforeMiB, peakMiB, texts, reset };
  } finally {
    await server.stop();
  }
}

export async function measureLastPositionLogits(target: ServerTarget, log: (line: string) => void): Promise<LastPositionResult> {
  const config = JSON.parse(readFileSync(join(REPO_ROOT, "models", MODEL, "config.json"), "utf8")) as { vocab_size: number };
  const vocab = config.vocab_size;
  // Token ids, so the lengths are exact: one 420-token prompt and seven distinct one-token prompts.
  const prompts = [Array.from({ length: LONG }, (_, i) => 300 + ((i * 7919) % 20000)), ...Array.from({ length: SHORT }, (_, i) => [1000 + i])];
  const cache = mkdtempSync(join(tmpdir(), "gpt3dev-bench-rewrite-"));
  try {
    log(`last-position logits: ${MODEL}, ${LONG} + ${SHORT}×1 tokens, rewrite on`);
    const lastOnly = await side(target, cache, prompts);
    log("last-position logits: rewrite off (--cache-dir none)");
    const allPositions = await side(target, "none", prompts);
    return {
      model: MODEL,
      vocab,
      prompts: `${LONG} + ${SHORT}×1 tokens`,
      fullLogitsMiB: ((1 + SHORT) * (LONG - 256) * vocab * 4) / MiB,
      lastOnly: { beforeMiB: lastOnly.beforeMiB, peakMiB: lastOnly.peakMiB, texts: lastOnly.texts },
      allPositions: { beforeMiB: allPositions.beforeMiB, peakMiB: allPositions.peakMiB, texts: allPositions.texts },
      peakReset: lastOnly.reset && allPositions.reset,
    };
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

const f0 = (v: number) => v.toFixed(0);

export function lastPositionTable(r: LastPositionResult): string {
  const rise = (s: LastPositionSide) => s.peakMiB - s.beforeMiB;
  const same = r.lastOnly.texts.join("\u0000") === r.allPositions.texts.join("\u0000");
  const lines = [
    "| logits computed | RSS before | peak during the request | rise |",
    "| --- | ---: | ---: | ---: |",
    `| last position of each row (num_logits_to_keep) | ${f0(r.lastOnly.beforeMiB)} MiB | ${f0(r.lastOnly.peakMiB)} MiB | ${f0(rise(r.lastOnly))} MiB |`,
    `| every position (\`--cache-dir none\`) | ${f0(r.allPositions.beforeMiB)} MiB | ${f0(r.allPositions.peakMiB)} MiB | ${f0(rise(r.allPositions))} MiB |`,
  ];
  const ratio = rise(r.lastOnly) > 0 ? `${(rise(r.allPositions) / rise(r.lastOnly)).toFixed(1)}×` : "n/a";
  lines.push(
    "",
    `${r.model} (${r.vocab.toLocaleString("en-US")}-token vocabulary), one request of ${r.prompts}: the peak rises ` +
      `${f0(rise(r.allPositions) - rise(r.lastOnly))} MiB less with last-position logits (${ratio} less rise); one ` +
      `[8, ${LONG - 256}, vocab] float32 logits tensor is ${f0(r.fullLogitsMiB)} MiB. Same answers both ways: ${same ? "yes" : "NO"}.` +
      (r.peakReset ? "" : " (The peak mark could not be reset: peaks include the model load.)"),
  );
  return lines.join("\n");
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const at = argv.indexOf("--server-ref");
  const target = await serverTarget({ binary: argv.includes("--binary"), ref: at >= 0 ? argv[at + 1] : undefined });
  const result = await measureLastPositionLogits(target, (line) => console.error(`[bench] ${line}`));
  console.log(lastPositionTable(result));
  console.log(JSON.stringify(result));
}

// Starts the real gpt3dev server as a child process for the bench: from source (`bun <root>/src/main.ts`, where
// <root> is the working tree or a snapshot of a git commit) or as the compiled `dist/gpt3dev`.
import type { Subprocess } from "bun";
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../test/e2e/harness.ts";

export const REPO_ROOT = resolve(import.meta.dir, "..");

export interface ServerTarget {
  /** "source": bun <root>/src/main.ts; "binary": <root>/dist/gpt3dev. */
  mode: "source" | "binary";
  root: string;
  /** What was measured, for the report: "working tree", a commit, or the binary's path. */
  label: string;
}

export interface BenchServer {
  baseURL: string;
  pid: number;
  stop(): Promise<void>;
  output(): string;
}

const START_TIMEOUT_MS = 30_000;

async function git(args: string[], cwd = REPO_ROOT): Promise<string> {
  const proc = Bun.spawn(["git", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`git ${args.join(" ")}: ${err.trim()}`);
  return out.trim();
}

/**
 * Where the measured server comes from. `ref` (a commit, branch or HEAD) is exported with `git archive` into a
 * temporary folder that borrows the repository's node_modules, so a run measures committed code even while other
 * work is in progress in the working tree.
 */
export async function serverTarget(opts: { binary: boolean; ref?: string }): Promise<ServerTarget> {
  // The binary is dist/gpt3dev as built from the working tree: a ref given with it would be measured as something it is not.
  if (opts.binary && opts.ref) throw new Error("--binary measures dist/gpt3dev, --server-ref a commit's source: give one of them");
  if (opts.binary) {
    const path = join(REPO_ROOT, "dist", "gpt3dev");
    if (!existsSync(path)) throw new Error(`${path} does not exist: run \`bun run build\` first`);
    return { mode: "binary", root: REPO_ROOT, label: "dist/gpt3dev" };
  }
  if (!opts.ref) {
    const head = await git(["rev-parse", "--short", "HEAD"]);
    const dirty = (await git(["status", "--porcelain", "--untracked-files=no", "--", "src"])) !== "";
    return { mode: "source", root: REPO_ROOT, label: `working tree (HEAD ${head}${dirty ? ", src/ modified" : ""})` };
  }
  const sha = await git(["rev-parse", "--verify", `${opts.ref}^{commit}`]);
  const root = join(tmpdir(), `gpt3dev-bench-${sha.slice(0, 12)}`);
  if (!existsSync(join(root, "src", "main.ts"))) {
    mkdirSync(root, { recursive: true });
    const archive = Bun.spawn(["git", "archive", "--format=tar", sha], { cwd: REPO_ROOT, stdout: "pipe" });
    const untar = Bun.spawn(["tar", "-x", "-C", root], { stdin: archive.stdout, stderr: "pipe" });
    if ((await archive.exited) !== 0 || (await untar.exited) !== 0) throw new Error(`could not export ${sha} to ${root}`);
  }
  if (!existsSync(join(root, "node_modules"))) symlinkSync(join(REPO_ROOT, "node_modules"), join(root, "node_modules"));
  return { mode: "source", root, label: `commit ${sha.slice(0, 7)}` };
}

export async function startBenchServer(target: ServerTarget, args: string[]): Promise<BenchServer> {
  const port = freePort();
  const entry = target.mode === "source" ? [process.execPath, join(target.root, "src", "main.ts")] : [join(target.root, "dist", "gpt3dev")];
  const cmd = [...entry, "--port", String(port), "--host", "127.0.0.1", ...args];
  const env: Record<string, string> = { ORT_DISABLE_TELEMETRY: "1" };
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== "BUN_BE_BUN") env[key] = value;
  const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(cmd, { cwd: target.root, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let captured = "";
  const decoder = new TextDecoder();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) captured += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([drain(proc.stdout), drain(proc.stderr)]).catch(() => {});
  const kill = () => proc.kill("SIGKILL");
  process.once("exit", kill);
  const stop = async () => {
    process.off("exit", kill);
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(kill, 10_000);
      await proc.exited;
      clearTimeout(timer);
    }
    await drained;
  };
  const baseURL = `http://127.0.0.1:${port}`;
  const started = performance.now();
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await drained;
      throw new Error(`server exited before /healthz answered.\n$ ${cmd.join(" ")}\n${captured}`);
    }
    const ok = await fetch(`${baseURL}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
    if (ok) break;
    if (performance.now() - started > START_TIMEOUT_MS) {
      await stop();
      throw new Error(`server gave no /healthz 200 within ${START_TIMEOUT_MS} ms.\n$ ${cmd.join(" ")}\n${captured}`);
    }
    await Bun.sleep(20);
  }
  return { baseURL, pid: proc.pid, stop, output: () => captured };
}

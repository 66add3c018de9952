/**
 * Starts the real server as a child process on a free port, from source
 * (`bun src/main.ts`) or as the compiled executable (`dist/gpt3dev`, run with a
 * PATH that holds no bun and no node to prove it is standalone).
 */
import type { Subprocess } from "bun";
import { existsSync, realpathSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export type ServerMode = "source" | "binary";

export interface RunningServer {
  /** e.g. http://127.0.0.1:PORT */
  baseURL: string;
  proc: Subprocess;
  /** Sends `signal` (SIGTERM by default), waits for the exit and returns the exit code (128 + n after signal n). */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** stdout + stderr captured so far. */
  output(): string;
}

export interface StartOptions {
  mode: ServerMode;
  args?: string[];
  env?: Record<string, string>;
  /** Working directory: the repository for "source", "/" for "binary" (it must not depend on it). */
  cwd?: string;
}

export const REPO_ROOT = resolve(import.meta.dir, "../..");
export const BINARY_PATH = join(REPO_ROOT, "dist", "gpt3dev");

const HEALTH_POLL_MS = 20;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const MODES: readonly ServerMode[] = ["source", "binary"];

/** ["source", "binary"] when dist/gpt3dev exists, else ["source"]; GPT3DEV_E2E_MODES=source,binary forces a list. */
export function serverModes(): ServerMode[] {
  const forced = process.env.GPT3DEV_E2E_MODES?.trim();
  if (!forced) return existsSync(BINARY_PATH) ? ["source", "binary"] : ["source"];
  const modes = forced.split(",").map((m) => m.trim()).filter(Boolean);
  for (const mode of modes) {
    if (!MODES.includes(mode as ServerMode)) {
      throw new Error(`GPT3DEV_E2E_MODES: unknown mode "${mode}" (expected source and/or binary)`);
    }
  }
  if (modes.includes("binary") && !existsSync(BINARY_PATH)) {
    throw new Error(`GPT3DEV_E2E_MODES asks for "binary" but ${BINARY_PATH} does not exist: run \`bun run build\` first`);
  }
  return modes as ServerMode[];
}

/** A PATH made of the usual system folders minus every folder that holds a `bun` or `node` executable. */
export function pathWithoutBunOrNode(): string {
  const candidates = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const dir of candidates) {
    if (!existsSync(dir)) continue;
    const real = realpathSync(dir);
    if (seen.has(real)) continue;
    seen.add(real);
    if (["bun", "node", "nodejs"].some((exe) => existsSync(join(real, exe)))) continue;
    kept.push(dir);
  }
  const path = kept.join(":");
  for (const exe of ["bun", "node"]) {
    const found = Bun.which(exe, { PATH: path });
    if (found) throw new Error(`pathWithoutBunOrNode: ${exe} still found at ${found}`);
  }
  return path;
}

/** A TCP port that was free a moment ago (bound on port 0, then released). */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

const running = new Set<Subprocess>();
// Never leave a server behind, whatever the tests do.
process.once("exit", () => {
  for (const proc of running) proc.kill("SIGKILL");
});

/** Stops every server started by this process that is still running. */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map(async (proc) => {
    proc.kill("SIGKILL");
    await proc.exited;
  }));
}

function command(mode: ServerMode): string[] {
  if (mode === "source") return [process.execPath, join(REPO_ROOT, "src", "main.ts")];
  if (!existsSync(BINARY_PATH) || !statSync(BINARY_PATH).isFile()) {
    throw new Error(`${BINARY_PATH} does not exist: run \`bun run build\` first`);
  }
  return [BINARY_PATH];
}

function childEnv(mode: ServerMode, extra: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // BUN_BE_BUN would turn the executable into the bun CLI.
    if (value !== undefined && key !== "BUN_BE_BUN") env[key] = value;
  }
  if (mode === "binary") env.PATH = pathWithoutBunOrNode();
  // Rewritten model graphs go to a test folder, not the user's ~/.cache.
  env.GPT3DEV_CACHE_DIR ??= join(tmpdir(), "gpt3dev-test-cache");
  return { ...env, ...extra };
}

async function capture(stream: ReadableStream<Uint8Array>, sink: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink(decoder.decode(chunk, { stream: true }));
  sink(decoder.decode());
}

export async function startServer(opts: StartOptions): Promise<RunningServer> {
  // A port found free can be taken before the server binds it: retry a few times then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, freePort());
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortInUseError)) throw error;
    }
  }
}

class PortInUseError extends Error {}

async function startOnce(opts: StartOptions, port: number): Promise<RunningServer> {
  const cmd = [...command(opts.mode), "--port", String(port), "--host", "127.0.0.1", ...(opts.args ?? [])];
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? (opts.mode === "source" ? REPO_ROOT : "/"),
    env: childEnv(opts.mode, opts.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));

  let captured = "";
  const append = (text: string) => {
    captured += text;
  };
  const drained = Promise.all([capture(proc.stdout, append), capture(proc.stderr, append)]).catch(() => {});
  const output = () => captured;

  const baseURL = `http://127.0.0.1:${port}`;
  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<number> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await proc.exited;
      clearTimeout(timer);
    }
    await drained;
    return proc.exited;
  };

  const started = performance.now();
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await drained;
      const message = `server (${opts.mode}) exited with ${proc.exitCode ?? proc.signalCode} before /healthz answered.\n$ ${cmd.join(" ")}\n${captured}`;
      throw /EADDRINUSE|in use/i.test(captured) ? new PortInUseError(message) : new Error(message);
    }
    try {
      const response = await fetch(`${baseURL}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() - started > START_TIMEOUT_MS) {
      await stop("SIGKILL");
      throw new Error(`server (${opts.mode}) gave no /healthz 200 within ${START_TIMEOUT_MS} ms.\n$ ${cmd.join(" ")}\n${captured}`);
    }
    await Bun.sleep(HEALTH_POLL_MS);
  }
  return { baseURL, proc, stop, output };
}

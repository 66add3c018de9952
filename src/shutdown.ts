/**
 * Graceful stop on SIGTERM (systemd, Docker) and SIGINT (Ctrl-C).
 *
 * Bun's `server.stop()` closes the listening socket and idle keep-alive connections at once, leaves requests in
 * flight (SSE streams included) running, and resolves when the last connection has closed; `stop(true)` cuts what
 * is left. Racing the first against a timer gives "finish what you started, within the grace period". A second
 * signal skips the rest of the wait, as an impatient Ctrl-C expects.
 */
import type { Server } from "bun";

const CLEANUP_TIMEOUT_MS = 5000;

export interface ShutdownOptions {
  server: Pick<Server<unknown>, "stop" | "pendingRequests">;
  graceSeconds: number;
  /** Runs once no request is left (or they were cut off): frees the models. */
  cleanup: () => Promise<void>;
  log?: (line: string) => void;
}

/** Stops the server on the first SIGTERM/SIGINT, then exits 0 (1 if the clean-up itself failed). */
export function exitOnSignals(options: ShutdownOptions): void {
  const log = options.log ?? ((line: string) => console.log(`[gpt3dev] ${line}`));
  let cutNow: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (cutNow) {
      log(`${signal} again: closing in-flight requests now`);
      cutNow();
      return;
    }
    const skipWait = new Promise<void>((resolve) => (cutNow = resolve));
    shutdown(signal, options, log, skipWait).then(
      () => process.exit(0),
      (error) => {
        console.error("[gpt3dev] shutdown failed:", error);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

async function shutdown(
  signal: NodeJS.Signals,
  { server, graceSeconds, cleanup }: ShutdownOptions,
  log: (line: string) => void,
  skipWait: Promise<void>,
): Promise<void> {
  const inFlight = server.pendingRequests;
  log(`${signal}: not accepting connections; ${inFlight} request(s) in flight, grace period ${graceSeconds} s`);
  const drained = server.stop(false).then(() => true);
  let timer: Timer | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceSeconds * 1000)));
  const clean = await Promise.race([drained, expired, skipWait.then(() => false as const)]);
  clearTimeout(timer);
  if (!clean) {
    log(`closing ${server.pendingRequests} request(s) still in flight`);
    await server.stop(true);
  }
  await withDeadline(cleanup(), CLEANUP_TIMEOUT_MS, () => log(`clean-up still running after ${CLEANUP_TIMEOUT_MS} ms, exiting anyway`));
  log("stopped");
}

/**
 * Nothing may keep the process alive once the server has stopped (the engine's worker is unref'd), so Bun would
 * exit mid clean-up, skipping the rest; the pending timer holds the process until `work` settles, and bounds it.
 */
async function withDeadline(work: Promise<void>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: Timer | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      onTimeout();
      resolve();
    }, ms);
  });
  try {
    await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

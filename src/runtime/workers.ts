/**
 * Where the engine's worker modules are. From source they sit in src/engine/; in the compiled executable build.ts
 * gives each to the bundler as an entry point of its own, and Bun embeds each entry under its path relative to the
 * entry points' common folder (src/), with a .js extension, beside the executable's own module.
 */
export type EngineWorkerName = "generation" | "auxiliary";

export function engineWorkerUrl(name: EngineWorkerName): URL {
  return Bun.isStandaloneExecutable
    ? new URL(`./engine/${name}-worker.js`, import.meta.url)
    : new URL(`../engine/${name}-worker.ts`, import.meta.url);
}

/** The entry points build.ts adds, relative to the repository. */
export const ENGINE_WORKER_ENTRIES = ["src/engine/generation-worker.ts", "src/engine/auxiliary-worker.ts"];

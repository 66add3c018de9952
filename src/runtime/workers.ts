/**
 * Where the engine worker's module is. From source it sits beside the engine; in the compiled executable build.ts
 * gives it to the bundler as a second entry point, and Bun embeds each entry under its path relative to the entry
 * points' common folder (src/), with a .js extension, beside the executable's own module.
 */
export function engineWorkerUrl(): URL {
  return Bun.isStandaloneExecutable
    ? new URL("./engine/engine-worker.js", import.meta.url)
    : new URL("../engine/engine-worker.ts", import.meta.url);
}

/** The entry point build.ts adds, relative to the repository. */
export const ENGINE_WORKER_ENTRY = "src/engine/engine-worker.ts";

// Temporary model folders and registries for one test file: fixture models written into a folder with a
// registry.yaml naming other dtypes of them, or a registry alone.
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A served id's folder (below the models folder) and the weight file it serves. */
export interface ServedFile {
  folder: string;
  dtype: string;
}

export interface FixtureFolder {
  dir: string;
  /** --models-dir and --registry for this folder. */
  args: string[];
  /** Writes registry.yaml: an entry for every served id that is not its folder's own name, then `extra` lines. */
  writeRegistry(served: Record<string, ServedFile>, extra?: string[]): void;
}

/** A new folder below the system's temporary folder, removed when the test file ends. */
export function fixtureFolder(prefix: string): FixtureFolder {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const registry = join(dir, "registry.yaml");
  return {
    dir,
    args: ["--models-dir", dir, "--registry", registry],
    writeRegistry(served, extra = []) {
      const entries = Object.entries(served)
        .filter(([id, s]) => id !== s.folder)
        .map(([id, s]) => `- name: ${id}\n  path: ${s.folder}\n  dtype: ${s.dtype}\n`);
      writeFileSync(registry, [...entries, ...extra].join(""));
    },
  };
}

/** A registry.json with `models` in a new temporary folder, removed when the test file ends; returns its path. */
export function temporaryRegistry(prefix: string, models: object[]): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "registry.json");
  writeFileSync(path, JSON.stringify({ models }));
  return path;
}

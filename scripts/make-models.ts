// Generates the project's own tiny test models (random weights, real file formats) into a models folder:
//   bun scripts/make-models.ts [--out DIR] [--bench] [--force] [--only id,id] [--quiet]
// DIR defaults to <repo>/models. Output is deterministic (seeded weights, stable serialisation), so two runs
// give byte-identical files. A model whose stamp (hash of the generator sources + file hashes) matches what
// is on disk is skipped; files are replaced atomically (write + rename) and only when their bytes change.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { MODELS, type ModelSpec } from "./fixtures/models.ts";

export const STAMP_FILE = ".fixture-stamp.json";
const REPO = resolve(import.meta.dir, "..");

interface Stamp {
  generator: string;
  files: Record<string, string>;
}

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(REPO, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

/** Hash of everything that determines the output: this script, the fixture modules, relevant packages. */
function generatorHash(id: string): string {
  const dir = join(import.meta.dir, "fixtures");
  const parts = [id, readFileSync(import.meta.path, "utf8"), `onnx-proto@${packageVersion("onnx-proto")}`, `gpt-tokenizer@${packageVersion("gpt-tokenizer")}`];
  for (const f of readdirSync(dir).sort()) if (f.endsWith(".ts")) parts.push(f, readFileSync(join(dir, f), "utf8"));
  return sha256(parts.join("\u0000"));
}

function readStamp(dir: string): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, STAMP_FILE), "utf8")) as Stamp;
  } catch {
    return undefined;
  }
}

function upToDate(dir: string, generator: string): boolean {
  const stamp = readStamp(dir);
  if (!stamp || stamp.generator !== generator) return false;
  return Object.entries(stamp.files).every(([rel, hash]) => {
    const path = join(dir, rel);
    return existsSync(path) && sha256(readFileSync(path)) === hash;
  });
}

function writeAtomic(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export interface MakeModelsOptions {
  outDir?: string;
  /** Model ids to build; default: every model marked `default`. */
  ids?: string[];
  force?: boolean;
  log?: (line: string) => void;
}

export interface MakeModelsResult {
  id: string;
  dir: string;
  status: "built" | "unchanged" | "up to date";
  files: Record<string, number>;
  ms: number;
}

export function makeModels(opts: MakeModelsOptions = {}): MakeModelsResult[] {
  const outDir = resolve(opts.outDir ?? join(REPO, "models"));
  const log = opts.log ?? (() => {});
  const specs: ModelSpec[] = opts.ids
    ? opts.ids.map((id) => {
        const spec = MODELS.find((m) => m.id === id);
        if (!spec) throw new Error(`unknown model id ${id} (known: ${MODELS.map((m) => m.id).join(", ")})`);
        return spec;
      })
    : MODELS.filter((m) => m.default);
  const results: MakeModelsResult[] = [];
  for (const spec of specs) {
    const t0 = performance.now();
    const dir = join(outDir, spec.id);
    const generator = generatorHash(spec.id);
    if (!opts.force && upToDate(dir, generator)) {
      const files = readStamp(dir)?.files ?? {};
      const sizes = Object.fromEntries(Object.keys(files).map((rel) => [rel, readFileSync(join(dir, rel)).length]));
      results.push({ id: spec.id, dir, status: "up to date", files: sizes, ms: performance.now() - t0 });
      log(`${spec.id}: up to date`);
      continue;
    }
    const built = spec.build();
    const stamp: Stamp = { generator, files: {} };
    const sizes: Record<string, number> = {};
    let changed = false;
    for (const [rel, data] of built) {
      const path = join(dir, rel);
      const hash = sha256(data);
      stamp.files[rel] = hash;
      sizes[rel] = data.length;
      if (existsSync(path) && sha256(readFileSync(path)) === hash) continue;
      writeAtomic(path, data);
      changed = true;
    }
    writeAtomic(join(dir, STAMP_FILE), `${JSON.stringify(stamp, null, 2)}\n`);
    const ms = performance.now() - t0;
    results.push({ id: spec.id, dir, status: changed ? "built" : "unchanged", files: sizes, ms });
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    log(`${spec.id}: ${changed ? "built" : "unchanged"} in ${ms.toFixed(0)} ms (${(total / 1e6).toFixed(2)} MB) -> ${dir}`);
  }
  return results;
}

function parseArgs(argv: string[]): MakeModelsOptions & { quiet: boolean } {
  const opts: MakeModelsOptions & { quiet: boolean } = { quiet: false };
  let bench = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = () => {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (!v) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--out" || a.startsWith("--out=")) opts.outDir = value();
    else if (a === "--only" || a.startsWith("--only=")) opts.ids = value().split(",").filter(Boolean);
    else if (a === "--bench") bench = true;
    else if (a === "--force") opts.force = true;
    else if (a === "--quiet") opts.quiet = true;
    else if (a === "--help" || a === "-h") {
      console.log("usage: bun scripts/make-models.ts [--out DIR] [--bench] [--force] [--only id,id] [--quiet]");
      console.log(`models: ${MODELS.map((m) => `${m.id}${m.default ? "" : " (--bench)"}`).join(", ")}`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (bench) opts.ids = [...(opts.ids ?? MODELS.filter((m) => m.default).map((m) => m.id)), "gpt2-small-bench"];
  return opts;
}

if (import.meta.main) {
  const t0 = performance.now();
  const opts = parseArgs(process.argv.slice(2));
  makeModels({ ...opts, log: opts.quiet ? undefined : (line) => console.log(line) });
  if (!opts.quiet) console.log(`done in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
}

/**
 * `bun build.ts` — compile the server into one executable, dist/gpt3dev, and put
 * beside it what it loads at run time:
 *
 *   dist/gpt3dev                    the executable (Bun runtime + bundled app, source map embedded)
 *   dist/onnxruntime_binding.node   ONNX Runtime's Node-API binding (RUNPATH $ORIGIN)
 *   dist/libonnxruntime.so.1        ONNX Runtime itself
 *   dist/models/<name>/             the generated demo models, those that exist in <repo>/models
 *
 * The folder is assembled next to dist/ and swapped in at the end, so a test
 * running meanwhile never sees a half-built dist/.
 *
 * Options: --entry <file> (default src/main.ts), --outdir <dir> (default dist).
 */
import { cpSync, existsSync, readdirSync, renameSync, rmSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createBuildPlugins } from "./scripts/build-plugins.ts";
import { ENGINE_WORKER_ENTRIES } from "./src/runtime/workers.ts";

const ROOT = import.meta.dir;
const MODEL_FOLDERS = ["tiny-gpt2", "tiny-llama", "tiny-bert", "tiny-moderation", "gpt2-vocab", "tiny-whisper", "tiny-vits"];
const ORT_FILES = ["onnxruntime_binding.node", "libonnxruntime.so.1"];

const { values: opts } = parseArgs({
  args: Bun.argv.slice(2),
  options: { entry: { type: "string" }, outdir: { type: "string" } },
});
const entry = resolve(ROOT, opts.entry ?? "src/main.ts");
const outdir = resolve(ROOT, opts.outdir ?? "dist");
const stage = `${outdir}.building-${process.pid}`;

async function assemble(dir: string): Promise<void> {
  const started = performance.now();
  const outfile = join(dir, "gpt3dev");
  const { plugins, assertApplied } = createBuildPlugins();
  const result = await Bun.build({
    // Each engine worker is an entry point of its own: Bun embeds it beside the main module (src/runtime/workers.ts).
    entrypoints: [entry, ...ENGINE_WORKER_ENTRIES.map((worker) => resolve(ROOT, worker))],
    // Without splitting, modules a worker imports lazily (gpt-tokenizer's rank tables) land in several bundles.
    splitting: true,
    target: "bun",
    format: "esm",
    minify: true,
    bytecode: true,
    sourcemap: "linked",
    plugins,
    compile: { outfile, autoloadDotenv: false, autoloadBunfig: false },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error("bun build failed");
  }
  assertApplied();
  // The source maps are embedded in the executable (readable stack traces); drop the copies.
  for (const name of readdirSync(dir)) if (name.endsWith(".map")) rmSync(join(dir, name), { force: true });
  console.log(`compiled ${entry} in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // ONNX Runtime's native files for this platform, beside the executable.
  const ortBin = join(ROOT, "node_modules/onnxruntime-node/bin/napi-v6", process.platform, process.arch);
  for (const file of ORT_FILES) {
    if (!existsSync(join(ortBin, file))) throw new Error(`missing ${join(ortBin, file)}`);
    cpSync(join(ortBin, file), join(dir, file));
  }

  // The generated models (scripts/make-models.ts), whichever exist.
  for (const name of MODEL_FOLDERS) {
    const src = join(ROOT, "models", name);
    if (existsSync(src)) cpSync(src, join(dir, "models", name), { recursive: true, dereference: true });
  }
}

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
try {
  await assemble(stage);
  const old = `${outdir}.old-${process.pid}`;
  if (existsSync(outdir)) renameSync(outdir, old);
  renameSync(stage, outdir);
  rmSync(old, { recursive: true, force: true });
} finally {
  rmSync(stage, { recursive: true, force: true });
}

function sizeOf(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0);
}
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
for (const name of readdirSync(outdir).sort()) console.log(`  ${mb(sizeOf(join(outdir, name))).padStart(9)}  ${name}`);
console.log(`${outdir}: ${mb(sizeOf(outdir))} in total`);

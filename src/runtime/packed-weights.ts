/**
 * Pre-packed weights kept in a file. ONNX Runtime re-lays matrix weights out for its kernels (pre-packing) each time a
 * session loads, into the process's own heap: two servers on one box then hold two private copies, and loading spends
 * seconds packing. Saved once (`session.save_external_prepacked_constant_initializers`), the packed forms go to the
 * data file of an optimized copy of the graph, and later loads map them from there: the weights are file pages that
 * replicas share and the kernel may drop under pressure, and a load skips the packing.
 *
 * The packed layout follows the kernels ONNX Runtime picks for this CPU and the optimizations it applied, so a cache
 * entry is keyed by the graph file, ONNX Runtime's version, the CPU's model and flags, and the optimization level.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DirectSession } from "./direct-session.ts";
import { ortVersion } from "./onnx.ts";
import type { SessionSettings } from "./session.ts";

/** Bumped when what is saved changes: old entries are then ignored. */
const PACKED_VERSION = 1;
const GRAPH = "model.onnx";
const DATA = "model.onnx.data";
/** Written last: an entry without it is incomplete (a load stopped while saving) and is saved again. */
const DONE = "packed.json";
/** Initializers below this stay inside the graph (ONNX Runtime needs shape constants inline). */
const EXTERNAL_MIN_BYTES = 64 * 1024;

export interface PackedGraph {
  /** The graph to open: the packed copy, or `graph` itself when none could be made. */
  path: string;
  /** Whether `path` is the packed copy (false also when ONNX Runtime had nothing to write to a data file). */
  packed: boolean;
  /** Why the packed copy could not be made or used (the graph is then opened as it is). */
  warning?: string;
}

interface PackedRecord {
  version: number;
  graph: string;
  ort: string;
  /** Whether ONNX Runtime wrote a data file (pre-packed or large weights) to map. */
  mapped: boolean;
  /** The data file's size: a copy whose file is not this size was damaged after it was saved, and is saved again. */
  dataBytes?: number;
}

/**
 * Removes the copies no server of this version can use again: those of the same graph made by another ONNX Runtime
 * version, and those whose graph is gone (a rewritten graph of an older rewrite version). Best effort: a copy another
 * process still maps stays readable to it until it lets go.
 */
function pruneObsolete(cacheDir: string, kept: string, graph: string): void {
  for (const name of readdirSync(cacheDir)) {
    const entry = join(cacheDir, name);
    if (entry === kept || name.endsWith(".tmp")) continue;
    try {
      const record = JSON.parse(readFileSync(join(entry, DONE), "utf8")) as Partial<PackedRecord>;
      if (typeof record.graph !== "string") continue;
      if ((record.graph === graph && record.ort !== ortVersion) || !existsSync(record.graph)) rmSync(entry, { recursive: true, force: true });
    } catch {
      // Not an entry of ours, or being written: left alone.
    }
  }
}

/** The graph to open for a complete, undamaged entry; undefined when the entry must be saved (again). */
function recorded(graph: string, entry: string): PackedGraph | undefined {
  let record: Partial<PackedRecord>;
  try {
    record = JSON.parse(readFileSync(join(entry, DONE), "utf8")) as Partial<PackedRecord>;
  } catch {
    return undefined;
  }
  if (typeof record.mapped !== "boolean") return undefined;
  if (!record.mapped) return { path: graph, packed: false };
  try {
    if (!statSync(join(entry, GRAPH)).isFile()) return undefined;
    if (record.dataBytes !== undefined && statSync(join(entry, DATA)).size !== record.dataBytes) return undefined;
  } catch {
    return undefined;
  }
  return { path: join(entry, GRAPH), packed: true };
}

/**
 * Removes partial copies whose server is gone (killed while saving): they are named `<entry>.<pid>.<random>.tmp`.
 * A copy being saved by a live process stays.
 */
function removeAbandoned(cacheDir: string): void {
  for (const name of readdirSync(cacheDir)) {
    const pid = /^[0-9a-f]+\.(\d+)\.[0-9a-z]+\.tmp$/.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || processAlive(Number(pid))) continue;
    rmSync(join(cacheDir, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** What identifies this machine's kernels: the CPU's model name and feature flags. */
function cpuIdentity(): string {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(info)?.[1] ?? "";
    return `${field("model name")}|${field("flags") || field("Features")}`;
  } catch {
    return `${process.platform}-${process.arch}`;
  }
}

/** The cache folder for `graph` under these settings (a name that changes with anything the packing depends on). */
export function packedEntry(graph: string, cacheDir: string, settings: SessionSettings): string {
  const file = resolve(graph);
  const { size, mtimeMs } = statSync(file);
  const key = JSON.stringify([PACKED_VERSION, file, size, mtimeMs, ortVersion, cpuIdentity(), settings.graphOptimizationLevel ?? "all"]);
  return join(cacheDir, new Bun.CryptoHasher("sha256").update(key).digest("hex").slice(0, 40));
}

/**
 * The packed copy of `graph` in `cacheDir`, saved first if this is its first load here. Never throws: a failure to
 * save leaves the graph to be opened as it is, with a warning.
 */
export function packedGraph(graph: string, cacheDir: string, settings: SessionSettings): PackedGraph {
  let entry: string;
  try {
    entry = packedEntry(graph, cacheDir, settings);
    const ready = existsSync(join(entry, DONE)) ? recorded(graph, entry) : undefined;
    if (ready) return ready;
  } catch (error) {
    return { path: graph, packed: false, warning: `pre-packed weights not cached: ${String(error)}` };
  }
  const partial = `${entry}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    mkdirSync(partial, { recursive: true });
    removeAbandoned(cacheDir);
    // ONNX Runtime warns that an optimized graph may be specific to this machine: the entry's key says which.
    const saving = DirectSession.open(graph, { ...settings, warnings: false }, {
      to: join(partial, GRAPH),
      entries: {
        "session.optimized_model_external_initializers_file_name": DATA,
        "session.optimized_model_external_initializers_min_size_in_bytes": String(EXTERNAL_MIN_BYTES),
        "session.save_external_prepacked_constant_initializers": "1",
      },
    });
    void saving.release();
    if (!existsSync(join(partial, GRAPH))) throw new Error("ONNX Runtime wrote no optimized graph");
    // Without a data file (every weight small, none of them packed) the copy would map nothing: the graph is used.
    const mapped = existsSync(join(partial, DATA));
    const record: PackedRecord = { version: PACKED_VERSION, graph: resolve(graph), ort: ortVersion, mapped };
    if (mapped) record.dataBytes = statSync(join(partial, DATA)).size;
    writeFileSync(join(partial, DONE), `${JSON.stringify(record, null, 2)}\n`);
    // Entries appear whole (renamed into place with their record): one without a readable record, or whose files do not
    // match it, is damaged, and replaced.
    if (existsSync(entry) && !recorded(graph, entry)) rmSync(entry, { recursive: true, force: true });
    try {
      renameSync(partial, entry);
    } catch (error) {
      // Another process saved the same entry first: use theirs.
      if (!recorded(graph, entry)) throw error;
      rmSync(partial, { recursive: true, force: true });
    }
    pruneObsolete(cacheDir, entry, resolve(graph));
    const saved = recorded(graph, entry);
    if (!saved) throw new Error("the saved copy could not be read back");
    return saved;
  } catch (error) {
    try {
      rmSync(partial, { recursive: true, force: true });
    } catch {
      // Nothing was made there.
    }
    return { path: graph, packed: false, warning: `pre-packed weights not cached in ${cacheDir}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

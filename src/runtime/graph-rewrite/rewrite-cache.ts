// Load-time graph rewrites, done once per model file: the rewritten model is kept in a cache folder under the
// source file's SHA-256 (and the rewrite version), so a restart or a second replica opens it without rewriting.
// A model none of the rewrites applies to is opened from where it is (the cache only records that).
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { dataFile, type DataChunk } from "./external-data.ts";
import { encodeModel, externalFiles, readModel } from "./onnx-graph.ts";
import type { EmbeddingTable } from "./embedding-rows.ts";
import { rewriteDecoder, tiedTableBytes, type RewriteName } from "./rewrites.ts";
import type { AttentionShape } from "./shared-kv-attention.ts";

/** Bumped whenever a rewrite changes what it writes: old cache entries are then ignored. */
export const REWRITE_VERSION = 8;
/** The data file a rewritten model's large weights are written to, beside it in its cache folder. */
const DATA_FILE = "model.onnx.data";

export interface PreparedModel {
  /** The file to open: the cached rewrite, or the source when nothing applied (or rewriting failed). */
  path: string;
  rewrites: RewriteName[];
  /** Why the source is opened unchanged although rewrites may apply (cache not writable, unreadable graph). */
  warning?: string;
  /** With the embedding-rows rewrite: where the rows the `token_embeddings` input takes are. */
  embeddings?: EmbeddingRowsLocation;
}

/** An embedding table in a rewritten model's data file: rows of `width` values of `dataType` from `offset` on. */
export interface EmbeddingRowsLocation extends EmbeddingTable {
  file: string;
  offset: number;
}

interface CacheRecord {
  version: number;
  source: string;
  rewrites: RewriteName[];
  /** The table's place in the data file (its path relative to the entry). */
  embeddings?: Omit<EmbeddingRowsLocation, "file">;
}

/** SHA-256 of a file, read in 16 MiB pieces (about half a second for a 500 MB model). */
export function fileHash(path: string): string {
  const hasher = new Bun.CryptoHasher("sha256");
  const piece = new Uint8Array(16 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n = readSync(fd, piece); n > 0; n = readSync(fd, piece)) hasher.update(piece.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hasher.digest("hex");
}

function writeChunks(path: string, chunks: readonly DataChunk[]): void {
  const fd = openSync(path, "w");
  try {
    for (const part of chunks) {
      const chunk = typeof part === "function" ? part() : part;
      let done = 0;
      while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes the entries older rewrite versions made for the same source file (`hash`): no server of this version opens
 * them again. Best effort: a graph another process still maps stays readable to it until it lets go.
 */
function pruneOlderVersions(cacheDir: string, hash: string): void {
  try {
    for (const name of readdirSync(cacheDir)) {
      const version = new RegExp(`^${hash}-v(\\d+)(-gqa\\d+)?(-f16)?(-ph)?(-er)?$`).exec(name)?.[1];
      if (version !== undefined && Number(version) < REWRITE_VERSION) rmSync(join(cacheDir, name), { recursive: true, force: true });
    }
  } catch {
    // The cache stays as it is.
  }
}

/**
 * The decoder file ONNX Runtime should open for `source` (its attention rewritten when `attention` says the head
 * count, an fp16 file's matrix weights kept fp16 with `halfWeights`, a tied head left for ONNX Runtime to pack with
 * `packedHead`, token embeddings fed as rows read from the data file with `embeddingRows`): rewritten into
 * `cacheDir` on first use, from the cache afterwards. Never throws for a cache problem: the source is opened as it
 * is, with a warning saying why.
 */
export function prepareDecoderFile(
  source: string,
  cacheDir: string,
  attention?: AttentionShape,
  halfWeights = false,
  packedHead = false,
  embeddingRows = false,
): PreparedModel {
  const src = resolve(source);
  let entry: string;
  try {
    // Attention rewritten or not, for which head count, fp16 weights kept or not, a tied head packed or not,
    // embeddings read by the runtime or not: different files.
    const variant = `${attention ? `-gqa${attention.heads}` : ""}${halfWeights ? "-f16" : ""}${packedHead ? "-ph" : ""}${embeddingRows ? "-er" : ""}`;
    entry = join(cacheDir, `${fileHash(src)}-v${REWRITE_VERSION}${variant}`);
  } catch (error) {
    return { path: src, rewrites: [], warning: `could not read ${src}: ${String(error)}` };
  }
  const recordPath = join(entry, "rewrites.json");
  if (existsSync(recordPath)) {
    try {
      const record = JSON.parse(readFileSync(recordPath, "utf8")) as CacheRecord;
      if (record.rewrites.length === 0) return { path: src, rewrites: [] };
      const cached = join(entry, "model.onnx");
      if (existsSync(cached)) return { path: cached, rewrites: record.rewrites, ...located(entry, record) };
    } catch {
      // A broken record is rewritten below.
    }
  }
  try {
    const bytes = Bun.mmap(src, { shared: true });
    const model = readModel(bytes);
    // ONNX Runtime 1.30 refuses external data reached through a link that leaves the graph's folder ("External
    // data path escapes model directory"), and a copy would double the disk: such a graph opens as it is.
    const external = externalFiles(model);
    if (external.length > 0) return { path: src, rewrites: [] };
    const { applied: rewrites, embeddings } = rewriteDecoder(model, { attention, halfWeights, packedHead, embeddingRows });
    mkdirSync(entry, { recursive: true });
    const record: CacheRecord = { version: REWRITE_VERSION, source: src, rewrites };
    if (rewrites.length > 0) {
      // Weights beside the graph, page-aligned, so that ONNX Runtime maps the ones it keeps as they are.
      const data = dataFile(DATA_FILE);
      const graph = encodeModel(model, data);
      const temp = join(entry, `model.onnx.${process.pid}.tmp`);
      // Written aside and renamed, never rewritten in place: a server already serving this entry (a replica that
      // rewrote it at the same time) keeps the file it mapped and reads rows from, whole.
      const dataTemp = join(entry, `${DATA_FILE}.${process.pid}.tmp`);
      writeChunks(dataTemp, data.chunks);
      renameSync(dataTemp, join(entry, DATA_FILE));
      writeChunks(temp, graph);
      if (embeddings) record.embeddings = { ...embeddings, offset: dataOffset(temp, embeddings.name) };
      renameSync(temp, join(entry, "model.onnx"));
    }
    writeFileSync(recordPath, `${JSON.stringify(record, null, 2)}\n`);
    pruneOlderVersions(cacheDir, basename(entry).slice(0, 64));
    return { path: rewrites.length > 0 ? join(entry, "model.onnx") : src, rewrites, ...located(entry, record) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { path: src, rewrites: [], warning: `graph rewrites skipped (${reason})` };
  }
}

/** Where the written graph `path` stores initializer `name` in its data file. */
function dataOffset(path: string, name: string): number {
  const offset = readModel(readFileSync(path)).initializers.get(name)?.externalOffset;
  if (offset === undefined) throw new Error(`the rewritten graph holds ${name} outside its data file`);
  return offset;
}

function located(entry: string, record: CacheRecord): Pick<PreparedModel, "embeddings"> {
  return record.embeddings ? { embeddings: { ...record.embeddings, file: join(entry, DATA_FILE) } } : {};
}

/**
 * Bytes of the embedding tables a decoder file's LM head reads transposed (tied heads, rewrites.ts), which ONNX
 * Runtime keeps a pre-packed copy of unless the head is rewritten to share them; 0 when it has none or cannot be read.
 */
export function tiedHeadBytes(source: string): number {
  try {
    return tiedTableBytes(readModel(Bun.mmap(resolve(source), { shared: true })));
  } catch {
    return 0;
  }
}

import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { appendFile, open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { explain, HubError, type HubFile, type HubSource } from "./hub-files.ts";

export interface DownloadProgress {
  file: HubFile;
  /** Bytes on disk so far (a resumed file starts above 0). */
  done: number;
  /** Bytes this run started from (what an earlier, interrupted run left). */
  resumedFrom: number;
}

/**
 * Fetches one file into `dir`, resuming a `<file>.part` an earlier run left (HTTP Range), then checks its size and
 * checksum against the Hub's listing before moving it into place. A file already there and matching is kept.
 * Returns "kept" or "downloaded".
 */
export async function downloadFile(source: HubSource, file: HubFile, dir: string, onProgress: (p: DownloadProgress) => void): Promise<"kept" | "downloaded"> {
  const target = join(dir, file.path);
  const part = `${target}.part`;
  if (existsSync(target) && statSync(target).size === file.size && (await checksumMatches(target, file))) return "kept";
  mkdirSync(dirname(target), { recursive: true });
  let start = existsSync(part) ? statSync(part).size : 0;
  if (start > file.size) {
    rmSync(part);
    start = 0;
  }
  if (start < file.size || file.size === 0) {
    const url = `${source.endpoint}/${source.repo}/resolve/${encodeURIComponent(source.revision)}/${file.path}`;
    const headers: Record<string, string> = {};
    if (source.token) headers.authorization = `Bearer ${source.token}`;
    if (start > 0) headers.range = `bytes=${start}-`;
    let response: Response;
    try {
      response = await fetch(url, { headers, redirect: "follow" });
    } catch (error) {
      throw explain(error, source);
    }
    if (response.status === 200 && start > 0) {
      // The server ignored the range: start over.
      rmSync(part, { force: true });
      start = 0;
    } else if (!response.ok) {
      throw explain(Object.assign(new Error(`GET ${file.path}: HTTP ${response.status}`), { statusCode: response.status }), source);
    }
    if (start === 0) await Bun.write(part, "");
    const handle = await open(part, "a");
    let done = start;
    try {
      for await (const chunk of response.body ?? []) {
        await handle.write(chunk);
        done += chunk.byteLength;
        onProgress({ file, done, resumedFrom: start });
      }
    } catch (error) {
      throw new HubError(`download of ${file.path} was cut at ${done} of ${file.size} bytes (${error instanceof Error ? error.message : error}); run the same command again to resume`);
    } finally {
      await handle.close();
    }
  } else {
    await appendFile(part, new Uint8Array(0));
  }
  const size = statSync(part).size;
  if (size !== file.size) {
    throw new HubError(`download of ${file.path} ended at ${size} of ${file.size} bytes; run the same command again to resume`);
  }
  if (!(await checksumMatches(part, file))) {
    rmSync(part);
    throw new HubError(`${file.path}: checksum does not match the Hub's (${file.sha256 ? `sha256 ${file.sha256}` : `git oid ${file.gitOid}`}); the partial file was removed, run again`);
  }
  renameSync(part, target);
  return "downloaded";
}

/** sha256 for LFS/Xet files, the git blob id for files kept in git; true when the Hub gave neither. */
export async function checksumMatches(path: string, file: HubFile): Promise<boolean> {
  if (file.sha256) return (await hashFile(path, "sha256")) === file.sha256;
  if (file.gitOid) return (await hashFile(path, "sha1", `blob ${statSync(path).size}\0`)) === file.gitOid;
  return true;
}

async function hashFile(path: string, algorithm: "sha256" | "sha1", prefix = ""): Promise<string> {
  const hasher = new Bun.CryptoHasher(algorithm);
  if (prefix) hasher.update(prefix);
  for await (const chunk of createReadStream(path)) hasher.update(chunk as Buffer);
  return hasher.digest("hex");
}

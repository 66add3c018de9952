/**
 * A loopback stand-in for the Hugging Face Hub, in its URL layout: `/api/models/{repo}` (with `siblings`),
 * `/api/models/{repo}/tree/{rev}` (with sizes, git oids and LFS sha256), `/{repo}/resolve/{rev}/{path}` with HTTP
 * Range. It can cut a file's first download halfway, serve a corrupted file, and require a token.
 */
import type { Server } from "bun";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

export interface FakeHubOptions {
  repo: string;
  dir: string;
  /** Paths whose first download stops halfway (the connection is cut). */
  cutOnce?: string[];
  /** Paths served with one byte changed (their listing keeps the true checksum). */
  corrupt?: string[];
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token?: string;
}

export interface FakeHub {
  url: string;
  /** `range` header of each resolve request, by path ("" when none). */
  ranges: Map<string, string[]>;
  stop(): void;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const isLfs = (path: string) => path.endsWith(".onnx") || path.includes(".onnx_data");

export function startFakeHub(options: FakeHubOptions): FakeHub {
  const files = new Map(walk(options.dir).map((path) => [relative(options.dir, path), readFileSync(path)]));
  const cut = new Set(options.cutOnce ?? []);
  const ranges = new Map<string, string[]>();
  const tree = [...files].map(([path, bytes]) => {
    const gitOid = new Bun.CryptoHasher("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
    const entry = { type: "file", path, size: bytes.length, oid: gitOid };
    if (!isLfs(path)) return entry;
    const sha256 = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
    return { ...entry, size: 134, lfs: { oid: sha256, size: bytes.length, pointerSize: 134 } };
  });
  const server: Server<unknown> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      if (options.token && request.headers.get("authorization") !== `Bearer ${options.token}`) {
        return Response.json({ error: "Access to this repository is restricted." }, { status: 401 });
      }
      const api = `/api/models/${options.repo}`;
      if (url.pathname === api) {
        return Response.json({ id: options.repo, sha: "0".repeat(40), siblings: [...files.keys()].map((rfilename) => ({ rfilename })) });
      }
      if (url.pathname === `${api}/tree/main`) return Response.json(tree);
      const prefix = `/${options.repo}/resolve/main/`;
      if (!url.pathname.startsWith(prefix)) return Response.json({ error: "Repository not found" }, { status: 404 });
      const path = decodeURIComponent(url.pathname.slice(prefix.length));
      let bytes = files.get(path);
      if (!bytes) return Response.json({ error: "Entry not found" }, { status: 404 });
      if (options.corrupt?.includes(path)) {
        const changed = Buffer.from(bytes);
        changed[changed.length >> 1] = changed[changed.length >> 1]! ^ 0xff;
        bytes = changed;
      }
      const range = request.headers.get("range") ?? "";
      ranges.set(path, [...(ranges.get(path) ?? []), range]);
      const start = Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0);
      const body = bytes.subarray(start);
      const headers = { "content-length": String(body.length), "accept-ranges": "bytes", etag: `"${path}"` };
      const status = start > 0 ? 206 : 200;
      if (start > 0) Object.assign(headers, { "content-range": `bytes ${start}-${bytes.length - 1}/${bytes.length}` });
      if (!cut.delete(path)) return new Response(body, { status, headers });
      const half = body.subarray(0, body.length >> 1);
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(half);
          await Bun.sleep(200);
          // Fewer bytes than content-length announced: the client sees the transfer end early.
          controller.close();
        },
      });
      return new Response(stream, { status, headers });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, ranges, stop: () => server.stop(true) };
}

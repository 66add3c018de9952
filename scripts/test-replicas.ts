// Two gpt3dev replicas behind Debian's nginx on loopback, configured from deploy/nginx.conf: a bounded load of
// non-streaming and streaming completions, one replica SIGKILLed mid-load. Checks that no non-streaming request is
// lost, that streams served by the survivor complete, and that the balancer stops sending to the dead replica.
//   bun scripts/test-replicas.ts        (the compiled dist/gpt3dev when built, else the server from source)
import type { Subprocess } from "bun";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY_PATH, freePort, REPO_ROOT, startServer, type RunningServer } from "../test/e2e/harness.ts";

const NON_STREAMING = 80;
const STREAMING = 24;
const CONCURRENCY = 8;
const KILL_AFTER_MS = 700;
const REQUEST_TIMEOUT_MS = 30_000;
const UPSTREAM_HEADER = "x-test-upstream";

/** deploy/nginx.conf with the replicas' ports, a loopback listener, and a header naming the replica that answered. */
function siteConfig(ports: number[], listenPort: number): string {
  const template = readFileSync(join(REPO_ROOT, "deploy", "nginx.conf"), "utf8");
  const servers = template.match(/^ {4}server 127\.0\.0\.1:\d+ .*;$/gm);
  if (!servers || servers.length < 2) throw new Error("deploy/nginx.conf: expected upstream `server 127.0.0.1:PORT …;` lines");
  const options = servers[0]!.replace(/^ {4}server 127\.0\.0\.1:\d+/, "");
  let site = template.replace(servers.join("\n"), ports.map((p) => `    server 127.0.0.1:${p}${options}`).join("\n"));
  site = site.replace(/^ {4}listen 80;$/m, `    listen 127.0.0.1:${listenPort};\n    add_header ${UPSTREAM_HEADER} $upstream_addr always;`);
  if (!site.includes(`listen 127.0.0.1:${listenPort}`)) throw new Error("deploy/nginx.conf: expected a `listen 80;` line");
  return site;
}

function mainConfig(dir: string): string {
  const user = process.getuid?.() === 0 ? "user root;\n" : "";
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `    ${t}_temp_path ${dir}/${t};`).join("\n");
  return `${user}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
${temp}
    include ${dir}/gpt3dev.conf;
}
`;
}

async function startNginx(ports: number[]): Promise<{ baseURL: string; proc: Subprocess; dir: string }> {
  const nginx = Bun.which("nginx") ?? Bun.which("nginx", { PATH: "/usr/sbin:/sbin" });
  if (!nginx) throw new Error("nginx is not installed (Debian: apt-get install nginx-light); .ci/run installs it");
  const dir = mkdtempSync(join(tmpdir(), "gpt3dev-nginx-"));
  mkdirSync(join(dir, "logs"));
  const listenPort = freePort();
  writeFileSync(join(dir, "gpt3dev.conf"), siteConfig(ports, listenPort));
  writeFileSync(join(dir, "nginx.conf"), mainConfig(dir));
  const args = [nginx, "-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log"), "-g", "daemon off;"];
  const check = Bun.spawnSync([...args, "-t"], { stderr: "pipe" });
  if (check.exitCode !== 0) throw new Error(`nginx -t failed:\n${check.stderr.toString()}`);
  const proc = Bun.spawn(args, { stdout: "inherit", stderr: "inherit" });
  const baseURL = `http://127.0.0.1:${listenPort}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${baseURL}/health`).then((r) => r.ok, () => false)) return { baseURL, proc, dir };
    await Bun.sleep(50);
  }
  proc.kill("SIGKILL");
  throw new Error(`nginx did not answer /health:\n${existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8") : ""}`);
}

interface Outcome {
  kind: "plain" | "stream";
  ok: boolean;
  upstream: string;
  detail: string;
  startedAfterKill: boolean;
}

async function completion(baseURL: string, i: number, stream: boolean, killedAt: () => number | undefined): Promise<Outcome> {
  const startedAfterKill = killedAt() !== undefined;
  const body = { model: "gpt2-vocab", prompt: `replica load ${i}`, max_tokens: stream ? 48 : 24, stream };
  try {
    const response = await fetch(`${baseURL}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const upstream = response.headers.get(UPSTREAM_HEADER) ?? "?";
    const text = await response.text();
    const ok = response.status === 200 && (stream ? text.endsWith("data: [DONE]\n\n") : text.includes('"finish_reason":"length"'));
    return { kind: stream ? "stream" : "plain", ok, upstream, detail: `${response.status} ${text.slice(-120)}`, startedAfterKill };
  } catch (error) {
    return { kind: stream ? "stream" : "plain", ok: false, upstream: "?", detail: String(error), startedAfterKill };
  }
}

const mode = existsSync(BINARY_PATH) ? "binary" : "source";
const replicas: RunningServer[] = [];
let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
const problems: string[] = [];
try {
  replicas.push(await startServer({ mode }), await startServer({ mode }));
  const ports = replicas.map((r) => Number(new URL(r.baseURL).port));
  const [victimPort, survivorPort] = ports as [number, number];
  nginx = await startNginx(ports);
  const baseURL = nginx.baseURL;
  const started = performance.now();

  let killedAt: number | undefined;
  const kill = Bun.sleep(KILL_AFTER_MS).then(() => {
    replicas[0]!.proc.kill("SIGKILL");
    killedAt = performance.now() - started;
  });
  const jobs = [
    ...Array.from({ length: NON_STREAMING }, (_, i) => () => completion(baseURL, i, false, () => killedAt)),
    ...Array.from({ length: STREAMING }, (_, i) => () => completion(baseURL, 1000 + i, true, () => killedAt)),
  ];
  // Interleave plain and streaming requests so both are in flight when the replica dies.
  const order = jobs.map((job, i) => ({ job, key: (i * 7919) % jobs.length })).sort((a, b) => a.key - b.key);
  const outcomes: Outcome[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < order.length) outcomes.push(await order[next++]!.job());
    }),
  );
  await kill;

  const plain = outcomes.filter((o) => o.kind === "plain");
  const streams = outcomes.filter((o) => o.kind === "stream");
  const lostPlain = plain.filter((o) => !o.ok);
  for (const o of lostPlain) problems.push(`non-streaming request lost: ${o.detail}`);
  const survivorStreams = streams.filter((o) => o.upstream === `127.0.0.1:${survivorPort}`);
  for (const o of survivorStreams.filter((s) => !s.ok)) problems.push(`stream on the surviving replica did not complete: ${o.detail}`);
  const cut = streams.filter((o) => !o.ok);
  for (const o of cut.filter((s) => s.startedAfterKill && !s.upstream.includes(String(victimPort)))) {
    problems.push(`stream started after the kill failed: ${o.upstream} ${o.detail}`);
  }
  const retried = plain.filter((o) => o.upstream.includes(",")).length;
  if (killedAt === undefined || killedAt > performance.now() - started) problems.push("the replica was not killed during the load");

  // The balancer drops the dead replica: every probe answers, and after the first failure none goes to it.
  const probes: string[] = [];
  for (let i = 0; i < 20; i++) {
    const response = await fetch(`${baseURL}/health`, { signal: AbortSignal.timeout(5000) });
    if (response.status !== 200) problems.push(`/health through nginx answered ${response.status}`);
    probes.push(response.headers.get(UPSTREAM_HEADER) ?? "?");
  }
  const toDead = probes.filter((u) => u.includes(String(victimPort))).length;
  if (toDead > 1) problems.push(`${toDead} of 20 /health probes still went to the dead replica: ${probes.join(" | ")}`);
  if (!probes.slice(1).every((u) => u === `127.0.0.1:${survivorPort}`)) problems.push(`probes: ${probes.join(" | ")}`);

  console.log(
    `replicas (${mode}): killed one of 2 after ${Math.round(killedAt ?? 0)} ms; ` +
      `${plain.length - lostPlain.length}/${plain.length} non-streaming answered (${retried} retried on the survivor by nginx); ` +
      `streams: ${survivorStreams.filter((s) => s.ok).length}/${survivorStreams.length} on the survivor completed, ` +
      `${cut.length} cut on the killed replica; /health: 20/20 answered, ${toDead} probe(s) tried the dead replica; ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
} catch (error) {
  problems.push(error instanceof Error ? error.message : String(error));
} finally {
  nginx?.proc.kill("SIGQUIT");
  await nginx?.proc.exited;
  for (const replica of replicas) await replica.stop();
  if (nginx) rmSync(nginx.dir, { recursive: true, force: true });
}
for (const problem of problems.slice(0, 30)) console.error(`  ${problem}`);
if (problems.length > 0) {
  console.error(`replicas: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log("replicas: nothing lost");

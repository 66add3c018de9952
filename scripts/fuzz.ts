// Posts generated hostile bodies to every POST route of a running server from source (or the compiled binary):
//   bun scripts/fuzz.ts [--per-route N] [--seed S] [--concurrency C] [--mode source|binary] [--base-url URL]
// The mode defaults to the compiled dist/gpt3dev when it is built (what ships), else the server from source.
// Fails (exit 1) on any 5xx, any error outside OpenAI's envelope, a broken stream, or a server that died.
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { BINARY_PATH, startServer, type RunningServer } from "../test/e2e/harness.ts";
import { runFuzz } from "../test/hostile/fuzz-runner.ts";

const { values } = parseArgs({
  options: {
    "per-route": { type: "string", default: "10000" },
    seed: { type: "string", default: "1" },
    concurrency: { type: "string", default: "8" },
    mode: { type: "string", default: existsSync(BINARY_PATH) ? "binary" : "source" },
    "base-url": { type: "string" },
  },
});

const perRoute = Number(values["per-route"]);
const seed = Number(values.seed);
let server: RunningServer | undefined;
let baseURL = values["base-url"];
if (!baseURL) {
  server = await startServer({ mode: values.mode === "binary" ? "binary" : "source" });
  baseURL = server.baseURL;
}
console.log(`fuzz: ${server ? `server (${values.mode})` : baseURL}, ${perRoute} bodies per route, seed ${seed}`);
const report = await runFuzz({ baseURL, perRoute, seed, concurrency: Number(values.concurrency) });
const alive = await fetch(`${baseURL}/healthz`).then((r) => r.status === 200, () => false);
const exitCode = server ? await server.stop() : 0;
const logged5xx = server?.output().split("\n").filter((line) => /\[gpt3dev\] (POST|GET) /.test(line)) ?? [];

console.log(
  `fuzz: ${report.sent} requests (${perRoute} per route, seed ${seed}) in ${(report.ms / 1000).toFixed(1)} s, ` +
    `${Math.round(report.sent / (report.ms / 1000))}/s; statuses ${JSON.stringify(report.byStatus)}`,
);
const problems = [
  ...report.failures,
  ...(alive ? [] : ["the server stopped answering /healthz"]),
  ...(server && exitCode !== 0 ? [`the server exited with ${exitCode} on SIGTERM`] : []),
  ...logged5xx.map((line) => `server logged a failure: ${line}`),
];
for (const problem of problems.slice(0, 50)) console.error(`  ${problem}`);
if (problems.length > 0) {
  console.error(`fuzz: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log("fuzz: no 5xx, every error in OpenAI's envelope, server alive");

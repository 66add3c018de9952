/**
 * The compiled executable (`bun run build` makes dist/gpt3dev before `bun test`):
 * it runs without bun or node on PATH, from another working directory, writes
 * nothing to $TMPDIR or $HOME, and serves a model.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import packageJson from "../../package.json" with { type: "json" };
import { BINARY_PATH, pathWithoutBunOrNode, serverModes, startServer, stopAllServers, type RunningServer } from "./harness.ts";

const DIST = join(BINARY_PATH, "..");
const COMPLETION = { model: "tiny-gpt2", prompt: "Hello", max_tokens: 5, temperature: 0 };

interface Completion {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: { text: string; index: number; logprobs: unknown; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

async function complete(server: RunningServer): Promise<Completion> {
  const response = await fetch(`${server.baseURL}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(COMPLETION),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST /v1/completions: ${response.status} ${text}\n${server.output()}`);
  return JSON.parse(text) as Completion;
}

const scratchDirs: string[] = [];
function emptyDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `gpt3dev-${name}-`));
  scratchDirs.push(dir);
  return dir;
}

afterAll(async () => {
  await stopAllServers();
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!serverModes().includes("binary"))("compiled executable dist/gpt3dev", () => {
  test("ships the ONNX Runtime libraries and the generated models beside it", () => {
    for (const file of ["onnxruntime_binding.node", "libonnxruntime.so.1"]) {
      expect(existsSync(join(DIST, file))).toBe(true);
    }
    expect(existsSync(join(DIST, "models", "tiny-gpt2", "config.json"))).toBe(true);
  });

  test("--version exits 0 and prints the versions, with no bun or node on PATH", () => {
    const result = Bun.spawnSync([BINARY_PATH, "--version"], {
      cwd: "/",
      env: { PATH: pathWithoutBunOrNode(), HOME: emptyDir("home") },
    });
    const stdout = result.stdout.toString();
    expect({ exitCode: result.exitCode, stderr: result.stderr.toString() }).toEqual({ exitCode: 0, stderr: "" });
    expect(stdout).toContain(`gpt3dev ${packageJson.version}`);
    expect(stdout).toContain(`onnxruntime-node ${packageJson.dependencies["onnxruntime-node"]}`);
  });

  test("serves /healthz and a completion standalone, loading ORT from beside itself, writing only to its cache folder", async () => {
    const tmp = emptyDir("tmp");
    const home = emptyDir("home");
    const cache = emptyDir("cache");
    const server = await startServer({ mode: "binary", env: { TMPDIR: tmp, HOME: home, GPT3DEV_CACHE_DIR: cache } });

    const health = await fetch(`${server.baseURL}/healthz`);
    expect(health.status).toBe(200);

    const completion = await complete(server);
    expect(completion).toMatchObject({ object: "text_completion", model: "tiny-gpt2" });
    expect(completion.id).toBeString();
    expect(Number.isInteger(completion.created)).toBe(true);
    expect(completion.choices).toHaveLength(1);
    const [choice] = completion.choices;
    expect(choice).toMatchObject({ index: 0, logprobs: null });
    expect(choice!.text).toBeString();
    expect(["length", "stop"]).toContain(choice!.finish_reason);
    const { prompt_tokens, completion_tokens, total_tokens } = completion.usage;
    expect(prompt_tokens).toBeGreaterThan(0);
    // max_tokens 5: exactly 5 unless the model emitted its end-of-text token first.
    if (choice!.finish_reason === "length") expect(completion_tokens).toBe(5);
    else expect(completion_tokens).toBeLessThan(5);
    expect(total_tokens).toBe(prompt_tokens + completion_tokens);

    // The native binding and library are the files beside the executable, not extracted copies.
    const mapsFile = `/proc/${server.proc.pid}/maps`;
    if (existsSync(mapsFile)) {
      const mapped = new Set(readFileSync(mapsFile, "utf8").split("\n").map((line) => line.split(/\s+/)[5] ?? ""));
      expect(mapped).toContain(join(DIST, "onnxruntime_binding.node"));
      expect(mapped).toContain(join(DIST, "libonnxruntime.so.1"));
    }

    expect(await server.stop()).toBe(0);
    expect(readdirSync(tmp, { recursive: true })).toEqual([]);
    // The things written, in the cache folder: the model's graph rewritten at load time (src/runtime/graph-rewrite/)
    // and its copy with pre-packed weights (src/runtime/packed-weights.ts).
    const cached = readdirSync(cache, { recursive: true }).map(String);
    expect(cached.filter((f) => f.endsWith("/model.onnx")).sort()).toEqual([
      expect.stringMatching(/^graphs\/[^/]+\/model\.onnx$/),
      expect.stringMatching(/^packed\/[0-9a-f]{40}\/model\.onnx$/),
    ]);
    expect(cached.every((f) => f.startsWith("graphs") || f.startsWith("packed"))).toBe(true);
    expect(cached.some((f) => f.endsWith(".tmp"))).toBe(false);
    expect(readdirSync(home, { recursive: true })).toEqual([]);
  });

  test("greedy output matches the server run from source", async () => {
    const [binary, source] = await Promise.all([startServer({ mode: "binary" }), startServer({ mode: "source" })]);
    const [fromBinary, fromSource] = await Promise.all([complete(binary), complete(source)]);
    expect(fromBinary.choices[0]!.text).toBe(fromSource.choices[0]!.text);
    expect(fromBinary.usage).toEqual(fromSource.usage);
    await Promise.all([binary.stop(), source.stop()]);
  });
});

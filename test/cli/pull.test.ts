import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY_PATH, freePort, pathWithoutBunOrNode, REPO_ROOT, serverModes } from "../e2e/harness.ts";
import { MODELS_DIR } from "../http/app.ts";
import { startFakeHub, type FakeHub } from "./fake-hub.ts";

const REPO = "test-org/tiny-llama-onnx";
const QUANTIZED = "onnx/model_quantized.onnx";

async function gpt3dev(mode: string, args: string[], env: Record<string, string>) {
  const cmd = mode === "binary" ? [BINARY_PATH, ...args] : [process.execPath, join(REPO_ROOT, "src/main.ts"), ...args];
  const base: Record<string, string> = { HOME: process.env.HOME ?? "/tmp" };
  base.PATH = mode === "binary" ? pathWithoutBunOrNode() : (process.env.PATH ?? "");
  const proc = Bun.spawn(cmd, { env: { ...base, ...env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code, output: stdout + stderr };
}

for (const mode of serverModes()) {
  describe(`gpt3dev pull [${mode}]`, () => {
    let source: string;
    let target: string;
    beforeAll(() => {
      // The served repository: the generated tiny-llama, plus an external-data file beside its int8 graph.
      source = mkdtempSync(join(tmpdir(), "gpt3dev-hub-"));
      cpSync(join(MODELS_DIR, "tiny-llama"), source, { recursive: true });
      writeFileSync(join(source, `${QUANTIZED}_data`), Buffer.alloc(300_000, 7));
      writeFileSync(join(source, "README.md"), "not needed by the server\n");
    });
    afterAll(() => {
      rmSync(source, { recursive: true, force: true });
      if (target) rmSync(target, { recursive: true, force: true });
    });

    it("resumes an interrupted download, checks every checksum, and fetches only what the dtype needs", async () => {
      target = mkdtempSync(join(tmpdir(), "gpt3dev-models-"));
      const hub = startFakeHub({ repo: REPO, dir: source, cutOnce: [`${QUANTIZED}_data`] });
      try {
        const env = { HF_ENDPOINT: hub.url, GPT3DEV_MODELS_DIR: target };
        const first = await gpt3dev(mode, ["pull", REPO, "--dtype", "q8"], env);
        expect(first.code).toBe(1);
        expect(first.stderr).toMatch(new RegExp(`download of ${QUANTIZED}_data (was cut at|ended at) \\d+ of 300000 bytes`));
        expect(first.stderr).toContain("run the same command again to resume");
        const part = join(target, "tiny-llama-onnx", `${QUANTIZED}_data.part`);
        const left = statSync(part).size;
        expect(left).toBeGreaterThan(0);
        expect(left).toBeLessThan(300_000);

        const second = await gpt3dev(mode, ["pull", REPO, "--dtype", "q8"], env);
        expect(second.stderr).toBe("");
        expect(second.code).toBe(0);
        expect(hub.ranges.get(`${QUANTIZED}_data`)).toEqual(["", `bytes=${left}-`]);
        expect(second.stdout).toContain(`downloading ${QUANTIZED}_data (0.3 MB, resuming at`);
        expect(second.stdout).toContain(`${QUANTIZED}: already here, checksum verified`);
        const pulled = join(target, "tiny-llama-onnx");
        for (const file of ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", QUANTIZED, `${QUANTIZED}_data`]) {
          expect(readFileSync(join(pulled, file)).equals(readFileSync(join(source, file)))).toBe(true);
        }
        expect(existsSync(part)).toBe(false);
        expect(existsSync(join(pulled, "onnx/model.onnx"))).toBe(false);
        expect(existsSync(join(pulled, "README.md"))).toBe(false);

        const listed = await gpt3dev(mode, ["models", "--json"], env);
        const models = JSON.parse(listed.stdout) as Array<{ id: string; family: string; servedDtype: string; dtypes: Array<{ dtype: string; bytes: number }>; contextLength: number; parameters: number }>;
        expect(models.map((m) => m.id)).toEqual(["tiny-llama-onnx"]);
        expect(models[0]).toMatchObject({ family: "llama", servedDtype: "q8", contextLength: 256 });
        expect(models[0]!.dtypes).toEqual([{ dtype: "q8", bytes: statSync(join(source, QUANTIZED)).size + 300_000 }]);
      } finally {
        hub.stop();
      }
    });

    it("refuses a file whose checksum differs from the Hub's, and removes it", async () => {
      const dir = mkdtempSync(join(tmpdir(), "gpt3dev-models-"));
      const hub = startFakeHub({ repo: REPO, dir: source, corrupt: ["tokenizer.json"] });
      try {
        const run = await gpt3dev(mode, ["pull", REPO, "--dtype", "q8"], { HF_ENDPOINT: hub.url, GPT3DEV_MODELS_DIR: dir });
        expect(run.code).toBe(1);
        expect(run.stderr).toContain("tokenizer.json: checksum does not match the Hub's (git oid");
        expect(existsSync(join(dir, "tiny-llama-onnx", "tokenizer.json"))).toBe(false);
        expect(existsSync(join(dir, "tiny-llama-onnx", "tokenizer.json.part"))).toBe(false);
      } finally {
        hub.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("sends HF_TOKEN for gated repositories, says so without one, and says clearly when the Hub is unreachable", async () => {
      const dir = mkdtempSync(join(tmpdir(), "gpt3dev-models-"));
      const hub = startFakeHub({ repo: REPO, dir: source, token: "hf_secret" });
      try {
        const env = { HF_ENDPOINT: hub.url, GPT3DEV_MODELS_DIR: dir };
        const refused = await gpt3dev(mode, ["pull", REPO], env);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain(`${REPO} is gated or private (HTTP 401)`);
        expect(refused.stderr).toContain("set HF_TOKEN");
        const allowed = await gpt3dev(mode, ["pull", REPO], { ...env, HF_TOKEN: "hf_secret" });
        expect(allowed.code).toBe(0);
        // No dtype asked: the one the server would serve (fp32 first).
        expect(allowed.stdout).toContain(`pulling ${REPO}@main (fp32,`);
        expect(existsSync(join(dir, "tiny-llama-onnx", "onnx/model.onnx"))).toBe(true);
        expect(allowed.output).not.toContain("hf_secret");
      } finally {
        hub.stop();
        rmSync(dir, { recursive: true, force: true });
      }
      const offline = await gpt3dev(mode, ["pull", REPO], { HF_ENDPOINT: `http://127.0.0.1:${freePort()}`, GPT3DEV_MODELS_DIR: dir });
      expect(offline.code).toBe(1);
      expect(offline.stderr).toContain("cannot reach the Hugging Face Hub at http://127.0.0.1:");
      expect(offline.stderr).toContain("set HF_ENDPOINT to a mirror");
    });
  });
}

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI, { AuthenticationError } from "openai";
import { serverModes, startServer, type RunningServer } from "./harness.ts";

for (const mode of serverModes()) {
  describe(`API keys [${mode}]`, () => {
    let dir: string;
    let keyFile: string;
    let server: RunningServer;
    const client = (apiKey: string) => new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey, maxRetries: 0 });

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "gpt3dev-keys-"));
      keyFile = join(dir, "keys");
      writeFileSync(keyFile, "# first generation\nkey-from-file-1\n");
      server = await startServer({ mode, args: ["--api-key-file", keyFile], env: { API_KEYS: "key-from-env" } });
    });
    afterAll(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it("serves the openai SDK with a key from API_KEYS or the key file, and refuses others with 401", async () => {
      expect((await client("key-from-env").models.list()).data.length).toBeGreaterThan(0);
      expect((await client("key-from-file-1").models.list()).data.length).toBeGreaterThan(0);
      const refused = await client("nope").models.list().catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(AuthenticationError);
      expect((refused as AuthenticationError).code).toBe("invalid_api_key");
      expect((await fetch(`${server.baseURL}/health`)).status).toBe(200);
    });

    it("re-reads the key file on SIGHUP, without a restart", async () => {
      writeFileSync(keyFile, "key-from-file-2\n");
      server.proc.kill("SIGHUP");
      const deadline = performance.now() + 5000;
      while (performance.now() < deadline) {
        const ok = await client("key-from-file-2").models.list().then(() => true, () => false);
        if (ok) break;
        await Bun.sleep(50);
      }
      expect((await client("key-from-file-2").models.list()).data.length).toBeGreaterThan(0);
      expect(await client("key-from-file-1").models.list().catch((error: unknown) => error)).toBeInstanceOf(AuthenticationError);
      expect(server.proc.exitCode).toBeNull();
      // The new keys apply before the log line crosses the pipe.
      for (let i = 0; i < 40 && !server.output().includes("SIGHUP: API keys required"); i++) await Bun.sleep(50);
      expect(server.output()).toContain("SIGHUP: API keys required");
      expect(server.output()).not.toContain("key-from-file");
    });
  });
}

describe("an open server", () => {
  it("says at start-up that it has no API key", async () => {
    const server = await startServer({ mode: "source" });
    try {
      // The line is written right after listening; the pipe may deliver it a moment after /healthz answered.
      for (let i = 0; i < 40 && !server.output().includes("no API key"); i++) await Bun.sleep(50);
      expect(server.output()).toContain("no API key is set");
    } finally {
      await server.stop();
    }
  });

  it("keeps serving after a SIGHUP", async () => {
    const server = await startServer({ mode: "source" });
    try {
      server.proc.kill("SIGHUP");
      for (let i = 0; i < 40 && !server.output().includes("SIGHUP:"); i++) await Bun.sleep(50);
      expect(server.output()).toContain("SIGHUP: no API key is set");
      expect((await fetch(`${server.baseURL}/healthz`)).status).toBe(200);
      expect(server.proc.exitCode).toBeNull();
    } finally {
      await server.stop();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { REPO_ROOT, serverModes, startServer, type RunningServer } from "./harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const OUTPUT = join(REPO_ROOT, "test-output");
const KEY = "playground-key";
// CI installs Debian's chromium (.ci/run); elsewhere the browser test runs when it is there.
const skip = !existsSync(CHROMIUM) && process.env.CI !== "true";
if (skip) console.warn(`playground test skipped: ${CHROMIUM} not found (apt-get install chromium)`);

for (const mode of serverModes()) {
  describe.skipIf(skip)(`playground at / [${mode}]`, () => {
    let server: RunningServer;
    let context: BrowserContext;
    let page: Page;
    let profile: string;

    beforeAll(async () => {
      server = await startServer({ mode, args: ["--api-key", KEY] });
      profile = mkdtempSync(join(tmpdir(), "gpt3dev-chromium-"));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
        ],
      });
      page = context.pages()[0] ?? (await context.newPage());
    }, 60_000);
    afterAll(async () => {
      await context?.close();
      await server?.stop();
      if (profile) rmSync(profile, { recursive: true, force: true });
    });

    it("opens without a key, then lists the models once the key is given", async () => {
      const external: string[] = [];
      page.on("request", (request) => {
        if (!request.url().startsWith(server.baseURL)) external.push(request.url());
      });
      await page.goto(server.baseURL);
      await page.waitForFunction(`document.getElementById("stats").textContent.startsWith("Models: ")`);
      expect(await page.locator("#stats").textContent()).toContain("You didn't provide an API key");
      await page.fill("#api-key", KEY);
      await page.locator("#api-key").dispatchEvent("change");
      await page.waitForFunction(`document.querySelectorAll("#model option").length > 0`);
      const models = await page.locator("#model option").allTextContents();
      expect(models).toEqual(["gpt2-vocab", "tiny-bert", "tiny-gpt2", "tiny-llama", "tiny-moderation", "tiny-vits", "tiny-whisper"]);
      expect(external).toEqual([]);
    });

    it("streams a chat answer equal to the API's, and shows tokens/s", async () => {
      await page.selectOption("#model", "tiny-llama");
      await page.selectOption("#mode", "chat");
      await page.fill("#temperature", "0");
      await page.fill("#max-tokens", "12");
      await page.fill("#prompt", "Hello, who are you?");
      await page.click("#send");
      await page.waitForFunction(`/tokens\\/s/.test(document.getElementById("stats").textContent)`, null, { timeout: 20_000 });
      const shown = await page.locator("[data-current]").textContent();
      const response = await fetch(`${server.baseURL}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: "tiny-llama", messages: [{ role: "user", content: "Hello, who are you?" }], temperature: 0, max_tokens: 12 }),
      });
      const expected = ((await response.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;
      expect(shown).toBe(expected);
      expect(await page.locator("#stats").textContent()).toMatch(/^12 tokens in [\d.]+ s, [\d.]+ tokens\/s, first token after [\d.]+ s$/);
    });

    it("renders /docs with the key the playground kept, from the server's own files", async () => {
      const external: string[] = [];
      const listener = (request: { url(): string }) => {
        if (!request.url().startsWith(server.baseURL)) external.push(request.url());
      };
      page.on("request", listener);
      const docs = await context.newPage();
      docs.on("request", listener);
      await docs.goto(`${server.baseURL}/docs`);
      const spec = (await (await fetch(`${server.baseURL}/openapi.json`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as {
        paths: Record<string, Record<string, unknown>>;
      };
      const operations = Object.values(spec.paths).reduce((sum, ops) => sum + Object.keys(ops).length, 0);
      await docs.waitForFunction(`document.querySelectorAll(".opblock").length === ${operations}`, null, { timeout: 20_000 });
      expect(await docs.locator("#key-bar").isVisible()).toBe(false);
      mkdirSync(OUTPUT, { recursive: true });
      await docs.screenshot({ path: join(OUTPUT, `docs-${mode}.png`) });
      await docs.close();
      page.off("request", listener);
      expect(external).toEqual([]);
    });

    it("stops a long answer: the request is aborted and the server stops generating", async () => {
      await page.click("#clear");
      await page.selectOption("#model", "gpt2-vocab");
      await page.selectOption("#mode", "completion");
      await page.fill("#temperature", "1");
      await page.fill("#max-tokens", "1000");
      // Sampled at temperature 1, an answer may end on its own before (or while) the stop is clicked: then it is
      // asked again, until a stop lands on an answer still running.
      let stats = "";
      for (let attempt = 0; attempt < 6 && !stats.startsWith("stopped"); attempt++) {
        if (attempt > 0) await page.click("#clear");
        await page.fill("#prompt", "Once upon a time");
        await page.click("#send");
        await page.waitForFunction(`(document.querySelector("[data-current]")?.textContent ?? "").length > 20 || document.getElementById("stop").disabled`, null, { timeout: 20_000 });
        if (await page.locator("#stop").isEnabled()) await page.click("#stop", { timeout: 2_000 }).catch(() => undefined);
        await page.waitForFunction(`document.getElementById("stop").disabled && document.getElementById("stats").textContent !== "…"`, null, { timeout: 10_000 });
        stats = (await page.locator("#stats").textContent())!;
      }
      expect(stats).toStartWith("stopped");
      const tokens = Number(/^stopped: ≈(\d+) tokens/.exec(stats)?.[1]);
      expect(tokens).toBeGreaterThan(0);
      expect(tokens).toBeLessThan(1000);
      expect(await page.locator("#send").isEnabled()).toBe(true);
      expect(await page.locator("#stop").isEnabled()).toBe(false);
      // The server let the sequence go: nothing runs for gpt2-vocab any more.
      let running = -1;
      for (let i = 0; i < 100 && running !== 0; i++) {
        const metrics = await (await fetch(`${server.baseURL}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
        running = Number(/^gpt3dev_running_sequences\{model="gpt2-vocab"\} (\d+)$/m.exec(metrics)?.[1] ?? "0");
        if (running !== 0) await Bun.sleep(50);
      }
      expect(running).toBe(0);
      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, `playground-${mode}.png`), fullPage: true });
      expect(existsSync(join(OUTPUT, `playground-${mode}.png`))).toBe(true);
    });
  });
}

// A deeply nested and wide value in an unknown field: refused by name with a 400 in the route's envelope, at once.
// Outside production the web framework wrote the whole value into its validation message (JSON.stringify with
// indentation), which held the event loop for seconds and, for a body of 624 KB, ran out of memory and answered 500;
// the server loads it in production mode (src/production-env.ts).
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { serverModes, startServer, type RunningServer } from "../e2e/harness.ts";

/** `{"a":{"a":…}}` `depth` levels deep around an array of `width` zeros, as JSON text. */
function deepAndWide(depth: number, width: number): string {
  return `${'{"a":'.repeat(depth)}[${new Array(width).fill("0").join(",")}]${"}".repeat(depth)}`;
}

for (const mode of serverModes()) {
  describe(`deep and wide bodies [${mode}]`, () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer({ mode });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it("refuses the unknown field by name with 400, and the server stays responsive", async () => {
      const body = `{"model":"tiny-gpt2","tokens":[31],"zzz":${deepAndWide(4000, 300_000)}}`;
      expect(body.length).toBeGreaterThan(600_000);
      const started = performance.now();
      const response = await fetch(`${server.baseURL}/detokenize`, { method: "POST", headers: { "content-type": "application/json" }, body });
      const json = (await response.json()) as { error?: { message?: string; type?: string } };
      expect(response.status).toBe(400);
      expect(json.error?.type).toBe("invalid_request_error");
      expect(json.error?.message).toContain("zzz");
      // Generous: the point is seconds instead of the 35 s (and a 500) of the framework's development mode.
      expect(performance.now() - started).toBeLessThan(10_000);
      expect((await fetch(`${server.baseURL}/healthz`)).status).toBe(200);
      expect(server.output()).not.toContain("failed");
    });
  });
}

import { expect, it } from "bun:test";
import { describeEachMode } from "../e2e/suite.ts";
import { runFuzz } from "./fuzz-runner.ts";

// scripts/fuzz.ts runs the full count (10,000 per route) in CI; this keeps every `bun test` honest.
const PER_ROUTE = 300;

describeEachMode("hostile bodies on every POST route", (ctx, mode) => {
  it(`never answers 5xx and wraps every error in OpenAI's envelope (${PER_ROUTE} generated bodies per route)`, async () => {
    const report = await runFuzz({ baseURL: ctx().server.baseURL, perRoute: PER_ROUTE, seed: mode === "source" ? 11 : 12, concurrency: 8 });
    expect(report.failures).toEqual([]);
    expect(report.sent).toBe(PER_ROUTE * 5);
    expect(report.byStatus["200"]).toBeGreaterThan(PER_ROUTE / 2);
    expect((await fetch(`${ctx().server.baseURL}/healthz`)).status).toBe(200);
    expect(ctx().server.output()).not.toMatch(/\[gpt3dev\] (POST|GET) /);
  }, 60_000);

  it("decodes an empty token list to an empty string", async () => {
    const response = await ctx().post("/detokenize", { model: "tiny-gpt2", tokens: [] });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ prompt: "" });
  });
});

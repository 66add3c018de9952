import { describe, expect, it } from "bun:test";
import type { LogSettings } from "../../src/config.ts";
import { Logger } from "../../src/telemetry/logger.ts";
import { Telemetry } from "../../src/telemetry/telemetry.ts";
import { appFromFlags, get, post } from "../http/app.ts";

function loggedApp(settings: Partial<LogSettings>, argv: string[] = []) {
  const lines: string[] = [];
  const telemetry = new Telemetry(new Logger(settings, (line) => lines.push(line)));
  const app = appFromFlags(argv, {}, { telemetry, metricsPublic: argv.includes("--metrics-public") });
  return { app, lines };
}

/** The request line of a finished exchange: streams end after the response is handed over. */
async function requestLines(lines: string[], count: number): Promise<string[]> {
  for (let i = 0; i < 200 && lines.filter((l) => l.includes("request")).length < count; i++) await Bun.sleep(10);
  return lines.filter((l) => l.includes('"msg":"request"') || l.startsWith("[gpt3dev] request "));
}

const PROMPT = "The secret prompt";

describe("request logs", () => {
  it("writes one JSON line per request with its id, route, model, status, tokens and times, and no text", async () => {
    const { app, lines } = loggedApp({ format: "json" });
    const response = await app.handle(post("/v1/completions", { model: "tiny-gpt2", prompt: PROMPT, max_tokens: 5, temperature: 0 }));
    const body = (await response.json()) as {
      choices: Array<{ text: string }>;
      usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details: { cached_tokens: number } };
    };
    const [line] = await requestLines(lines, 1);
    const record = JSON.parse(line!) as Record<string, unknown>;
    expect(record).toMatchObject({
      level: "info",
      msg: "request",
      id: response.headers.get("x-request-id"),
      method: "POST",
      path: "/v1/completions",
      route: "/v1/completions",
      model: "tiny-gpt2",
      status: 200,
      prompt_tokens: body.usage.prompt_tokens,
      completion_tokens: body.usage.completion_tokens,
      cached_tokens: body.usage.prompt_tokens_details.cached_tokens,
    });
    expect(record.id).toMatch(/^req-[0-9a-f]{32}$/);
    expect(record.ttft_ms as number).toBeGreaterThan(0);
    expect(record.total_ms as number).toBeGreaterThanOrEqual(record.ttft_ms as number);
    expect(line).not.toContain(PROMPT);
    if (body.choices[0]!.text.trim() !== "") expect(line).not.toContain(body.choices[0]!.text);
  });

  it("ends a streamed request's line when the stream ends, with its completion tokens", async () => {
    const { app, lines } = loggedApp({});
    const response = await app.handle(
      post("/v1/chat/completions", {
        model: "tiny-llama",
        messages: [{ role: "user", content: PROMPT }],
        max_tokens: 4,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const text = await response.text();
    const usage = JSON.parse(text.split("\n\n").at(-3)!.slice(6)) as { usage: { prompt_tokens: number; completion_tokens: number } };
    const [line] = await requestLines(lines, 1);
    expect(line).toStartWith("[gpt3dev] request id=req-");
    expect(line).toContain(" method=POST path=/v1/chat/completions route=/v1/chat/completions model=tiny-llama status=200 ");
    expect(line).toContain(` prompt_tokens=${usage.usage.prompt_tokens} completion_tokens=${usage.usage.completion_tokens} `);
    expect(line).not.toContain(PROMPT);
  });

  it("logs refusals with their status, and the prompt and completion only with --log-prompts", async () => {
    const { app, lines } = loggedApp({ format: "json", prompts: true }, ["--api-key", "k"]);
    expect((await app.handle(post("/v1/completions", { model: "tiny-gpt2", prompt: PROMPT }))).status).toBe(401);
    const ok = await app.handle(
      post("/v1/completions", { model: "tiny-gpt2", prompt: PROMPT, max_tokens: 5, temperature: 0 }, { authorization: "Bearer k" }),
    );
    const text = ((await ok.json()) as { choices: Array<{ text: string }> }).choices[0]!.text;
    const [refused, served] = (await requestLines(lines, 2)).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(refused).toMatchObject({ method: "POST", path: "/v1/completions", status: 401 });
    expect(Object.keys(refused!)).not.toContain("prompt");
    expect(served).toMatchObject({ status: 200, prompt: JSON.stringify(PROMPT), completion: text });
  });

  it("drops request lines below --log-level, and health checks below info", async () => {
    const quiet = loggedApp({ level: "warn" });
    await quiet.app.handle(get("/v1/models"));
    expect(quiet.lines).toEqual([]);
    const normal = loggedApp({});
    await normal.app.handle(get("/healthz"));
    await normal.app.handle(get("/v1/models"));
    const lines = await requestLines(normal.lines, 1);
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain("path=/v1/models route=/v1/models status=200");
  });
});

describe("GET /metrics access", () => {
  it("is refused without a key when keys are set, and served with --metrics-public", async () => {
    expect((await loggedApp({}, ["--api-key", "k"]).app.handle(get("/metrics"))).status).toBe(401);
    const open = await loggedApp({}, ["--api-key", "k", "--metrics-public"]).app.handle(get("/metrics"));
    expect(open.status).toBe(200);
    expect(await open.text()).toContain("# TYPE gpt3dev_requests_total counter");
  });
});

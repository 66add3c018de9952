import { resolve } from "node:path";
import { createApp, type AppDeps } from "../../src/app.ts";
import { parseCli } from "../../src/config.ts";
import { Engine } from "../../src/engine/engine.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import { ApiKeys } from "../../src/http/api-keys.ts";
import { Logger } from "../../src/telemetry/logger.ts";
import { Telemetry } from "../../src/telemetry/telemetry.ts";

export const MODELS_DIR = resolve(import.meta.dir, "../../models");

let shared: Engine | undefined;
/** One engine for every in-process app of a test file: models load once. */
export function testEngine(): Engine {
  shared ??= new Engine({ registry: new ModelRegistry({ modelsDir: MODELS_DIR }), maxLoadedModels: 4, intraOpThreads: 1 });
  return shared;
}

/** The app as main.ts builds it from these flags, without listening: tests call `app.handle(request)`. */
export function appFromFlags(argv: string[] = [], env: Record<string, string> = {}, deps: Partial<AppDeps> = {}) {
  const cli = parseCli(argv, env);
  if (cli.kind !== "run") throw new Error("expected a run configuration");
  const { config } = cli;
  return createApp({
    engine: testEngine(),
    apiKeys: new ApiKeys(config.apiKeys, config.apiKeyFile),
    corsAllowOrigins: config.corsAllowOrigins,
    limits: config.limits,
    // Request lines would drown the test output; test/telemetry/ checks them.
    telemetry: new Telemetry(new Logger({ ...config.log, level: "warn" })),
    ...deps,
  });
}

export function post(path: string, body: unknown, headers: Record<string, string> = {}): Request {
  return new Request(`http://localhost${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export function get(path: string, headers: Record<string, string> = {}): Request {
  return new Request(`http://localhost${path}`, { headers });
}

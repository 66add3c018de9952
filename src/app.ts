import { Elysia, type AnyElysia } from "elysia";
import packageJson from "../package.json" with { type: "json" };
import type { Limits } from "./config.ts";
import type { Engine } from "./engine/engine.ts";
import { speaksAnthropic, toAnthropicError } from "./anthropic-errors.ts";
import { OpenAIError, toOpenAIError } from "./errors.ts";
import type { ApiKeys } from "./http/api-keys.ts";
import { authPlugin, OPEN_PATHS } from "./http/auth.ts";
import { bodyLimitPlugin, SERVE_BODY_BACKSTOP_BYTES } from "./http/body-limit.ts";
import { corsPlugin } from "./http/cors.ts";
import { chatRoutes } from "./routes/chat.ts";
import { completionsRoutes } from "./routes/completions.ts";
import { audioRoutes } from "./routes/audio.ts";
import { moderationsRoutes } from "./routes/moderations.ts";
import { embeddingsRoutes } from "./routes/embeddings.ts";
import { healthRoutes } from "./routes/health.ts";
import { messagesRoutes } from "./routes/messages.ts";
import { modelsRoutes } from "./routes/models.ts";
import { responsesRoutes } from "./routes/responses.ts";
import { tokenizeRoutes } from "./routes/tokenize.ts";
import { DOCS_PUBLIC_PATHS, docsRoutes } from "./routes/docs.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { PLAYGROUND_PUBLIC_PATHS, playgroundRoutes } from "./routes/playground.ts";
import { markFailed, requestLogPlugin } from "./telemetry/request-log.ts";
import { Telemetry } from "./telemetry/telemetry.ts";

export interface AppDeps {
  engine: Engine;
  apiKeys: ApiKeys;
  corsAllowOrigins: readonly string[];
  limits: Limits;
  /** Request logs and metrics; a default one logs plain lines at info level. */
  telemetry?: Telemetry;
  /** Serve /metrics without a key (`--metrics-public`). */
  metricsPublic?: boolean;
}

/** Paths served without a key: health checks, the API docs, and /metrics with --metrics-public. */
export function publicPaths(metricsPublic: boolean): string[] {
  return [...OPEN_PATHS, ...PLAYGROUND_PUBLIC_PATHS, ...DOCS_PUBLIC_PATHS, ...(metricsPublic ? ["/metrics"] : [])];
}

/** The whole HTTP surface; never listens by itself, so tests can call `app.handle(request)`. */
export function createApp({ engine, apiKeys, corsAllowOrigins, limits, telemetry = new Telemetry(), metricsPublic = false }: AppDeps) {
  telemetry.metrics.readEngineStats(() => engine.statsIfRunning());
  let root: AnyElysia | undefined;
  const app = new Elysia({ normalize: false, serve: { maxRequestBodySize: SERVE_BODY_BACKSTOP_BYTES } })
    .use(requestLogPlugin(telemetry))
    .onError(({ code, error, request, route }) => {
      const { pathname } = new URL(request.url);
      const failure = code === "NOT_FOUND" ? new OpenAIError(404, `Invalid URL (${request.method} ${pathname})`) : error;
      // Each protocol answers in its own envelope: Anthropic's on its Messages routes, OpenAI's everywhere else.
      const mapped = speaksAnthropic(pathname) ? toAnthropicError(failure, code) : toOpenAIError(failure, code, { route: pathname });
      markFailed(request, mapped.status, route);
      // Logs the failure, never the request body (prompts stay private).
      if (mapped.status >= 500) {
        telemetry.logger.error(`${request.method} ${pathname} failed`, { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
      return Response.json(mapped.toBody(), { status: mapped.status, headers: mapped.headers });
    })
    // CORS first: its preflight answer must not need a key, and refusals must carry its headers.
    .use(corsPlugin(corsAllowOrigins))
    .use(authPlugin(apiKeys, publicPaths(metricsPublic)))
    .use(bodyLimitPlugin(limits.maxBodyBytes, limits.maxAudioBytes))
    .use(healthRoutes())
    .use(modelsRoutes(engine))
    .use(completionsRoutes(engine, limits))
    .use(chatRoutes(engine, limits))
    .use(responsesRoutes(engine, limits))
    .use(messagesRoutes(engine, limits))
    .use(tokenizeRoutes(engine, limits))
    .use(embeddingsRoutes(engine, limits))
    .use(moderationsRoutes(engine, limits))
    .use(audioRoutes(engine))
    .use(metricsRoutes(telemetry.metrics))
    .use(playgroundRoutes())
    // Documents every route above (and any added later), read when /openapi.json is first asked for.
    .use(docsRoutes(() => root!, packageJson.version));
  root = app;
  return app;
}

export type App = ReturnType<typeof createApp>;

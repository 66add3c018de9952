import { Elysia } from "elysia";
import type { Limits } from "./config.ts";
import type { Engine } from "./engine/engine.ts";
import { OpenAIError, toOpenAIError } from "./errors.ts";
import type { ApiKeys } from "./http/api-keys.ts";
import { authPlugin } from "./http/auth.ts";
import { bodyLimitPlugin, SERVE_BODY_BACKSTOP_BYTES } from "./http/body-limit.ts";
import { corsPlugin } from "./http/cors.ts";
import { chatRoutes } from "./routes/chat.ts";
import { completionsRoutes } from "./routes/completions.ts";
import { embeddingsRoutes } from "./routes/embeddings.ts";
import { healthRoutes } from "./routes/health.ts";
import { modelsRoutes } from "./routes/models.ts";
import { tokenizeRoutes } from "./routes/tokenize.ts";

export interface AppDeps {
  engine: Engine;
  apiKeys: ApiKeys;
  corsAllowOrigins: readonly string[];
  limits: Limits;
}

/** The whole HTTP surface; never listens by itself, so tests can call `app.handle(request)`. */
export function createApp({ engine, apiKeys, corsAllowOrigins, limits }: AppDeps) {
  return new Elysia({ normalize: false, serve: { maxRequestBodySize: SERVE_BODY_BACKSTOP_BYTES } })
    .onError(({ code, error, request }) => {
      const { pathname } = new URL(request.url);
      const openaiError =
        code === "NOT_FOUND"
          ? new OpenAIError(404, `Invalid URL (${request.method} ${pathname})`)
          : toOpenAIError(error, code);
      // Logs the failure, never the request body (prompts stay private).
      if (openaiError.status >= 500) console.error(`[gpt3dev] ${request.method} ${pathname}:`, error);
      return Response.json(openaiError.toBody(), { status: openaiError.status, headers: openaiError.headers });
    })
    // CORS first: its preflight answer must not need a key, and refusals must carry its headers.
    .use(corsPlugin(corsAllowOrigins))
    .use(authPlugin(apiKeys))
    .use(bodyLimitPlugin(limits.maxBodyBytes))
    .use(healthRoutes())
    .use(modelsRoutes(engine))
    .use(completionsRoutes(engine, limits))
    .use(chatRoutes(engine, limits))
    .use(tokenizeRoutes(engine, limits))
    .use(embeddingsRoutes(engine, limits));
}

export type App = ReturnType<typeof createApp>;

import { Elysia } from "elysia";
import type { Engine } from "./engine/engine.ts";
import { OpenAIError, toOpenAIError } from "./errors.ts";
import { chatRoutes } from "./routes/chat.ts";
import { completionsRoutes } from "./routes/completions.ts";
import { embeddingsRoutes } from "./routes/embeddings.ts";
import { healthRoutes } from "./routes/health.ts";
import { modelsRoutes } from "./routes/models.ts";
import { tokenizeRoutes } from "./routes/tokenize.ts";

export interface AppDeps {
  engine: Engine;
}

/** The whole HTTP surface; never listens by itself, so tests can call `app.handle(request)`. */
export function createApp({ engine }: AppDeps) {
  return new Elysia({ normalize: false })
    .onError(({ code, error, request }) => {
      const { pathname } = new URL(request.url);
      const openaiError =
        code === "NOT_FOUND"
          ? new OpenAIError(404, `Invalid URL (${request.method} ${pathname})`)
          : toOpenAIError(error, code);
      // Logs the failure, never the request body (prompts stay private).
      if (openaiError.status >= 500) console.error(`[gpt3dev] ${request.method} ${pathname}:`, error);
      return Response.json(openaiError.toBody(), { status: openaiError.status });
    })
    .use(healthRoutes())
    .use(modelsRoutes(engine))
    .use(completionsRoutes(engine))
    .use(chatRoutes(engine))
    .use(tokenizeRoutes(engine))
    .use(embeddingsRoutes(engine));
}

export type App = ReturnType<typeof createApp>;

import { Elysia } from "elysia";
import type { Limits } from "../config.ts";
import type { Engine } from "../engine/engine.ts";
import { EmbeddingCreateParams, type CreateEmbeddingResponse } from "../openai/embeddings.ts";
import { inRoute } from "../errors.ts";
import { checkEmbeddingLimits } from "./limits.ts";
import { listParamOf } from "./param-names.ts";

export const embeddingsRoutes = (engine: Engine, limits: Limits) =>
  new Elysia({ name: "embeddings" }).post(
    "/v1/embeddings",
    async ({ body, request, server }): Promise<CreateEmbeddingResponse> => {
      checkEmbeddingLimits(body, limits);
      // A large batch on a big model can outlast Bun's idle timeout; the client decides how long it waits.
      server?.timeout(request, 0);
      const inputs = toInputList(body.input);
      const result = await inRoute(engine.createEmbeddings({ model: body.model, inputs, dimensions: body.dimensions ?? undefined }), {
        route: "/v1/embeddings",
        paramOf: listParamOf("inputs", "input", inputs === body.input),
      });
      const encode = body.encoding_format === "base64" ? toBase64 : (vector: Float32Array) => Array.from(vector);
      return {
        object: "list",
        data: result.vectors.map((vector, index) => ({ object: "embedding", index, embedding: encode(vector) })),
        model: result.modelId,
        usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
      };
    },
    { body: EmbeddingCreateParams },
  );

function toInputList(input: EmbeddingCreateParams["input"]): Array<string | number[]> {
  if (typeof input === "string") return [input];
  if (typeof input[0] === "number") return [input as number[]];
  return input as string[] | number[][];
}

/**
 * OpenAI's base64 form: the raw float32 bytes, little-endian. The host's own byte order is little-endian on every
 * platform Bun ships for, so the vector's memory is already in that layout.
 */
function toBase64(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64");
}

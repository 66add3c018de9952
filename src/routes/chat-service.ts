import type { Limits } from "../config.ts";
import type { CompletionRequest } from "../engine/completions.ts";
import type { Engine } from "../engine/engine.ts";
import { OutputConstraintError } from "../engine/errors.ts";
import type { ChatMessage } from "../engine/tokenizer.ts";
import { unenforceableSchema } from "../errors.ts";
import { serveGeneration, type Exchange, type GenerationFormat } from "./generation-response.ts";
import { checkPromptLength } from "./limits.ts";

/**
 * A chat request in engine terms. Every chat-shaped protocol (chat completions, Responses, Anthropic Messages)
 * converts its wire request into this once; from here on they share one path: template, sampler, scheduler,
 * cancellation and the request deadline.
 */
export type ChatRequest = Omit<Extract<CompletionRequest, { messages: readonly ChatMessage[] }>, "signal">;

/** Where a protocol's request holds the schemas constrained decoding enforces, for errors that name them. */
export interface SchemaFields {
  format: string;
  tool(index: number): string;
}

/** Runs a chat request and answers it whole or streamed, in the shape `format` gives it. */
export function serveChat<Whole>(
  engine: Engine,
  exchange: Exchange,
  request: ChatRequest,
  format: GenerationFormat<Whole>,
  schemaFields?: SchemaFields,
): Promise<Whole | Response> {
  const start = async (signal: AbortSignal) => {
    try {
      return await engine.createCompletion({ ...request, signal });
    } catch (error) {
      if (!(schemaFields && error instanceof OutputConstraintError)) throw error;
      const index = error.toolIndex;
      throw unenforceableSchema(error, index === undefined ? schemaFields.format : schemaFields.tool(index));
    }
  };
  return serveGeneration(exchange, start, format);
}

/** A conversation counts as one prompt for `--max-prompt-chars`: the characters of every message, summed. */
export function checkConversationLength(messages: readonly ChatMessage[], param: string, limits: Limits): void {
  const calls = (m: ChatMessage) => (m.toolCalls ?? []).reduce((sum, c) => sum + c.name.length + c.arguments.length, 0);
  checkPromptLength(messages.reduce((sum, m) => sum + m.content.length + calls(m), 0), param, limits);
}

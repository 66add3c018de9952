import type { Limits } from "../config.ts";
import type { CompletionRequest } from "../engine/completions.ts";
import type { Engine } from "../engine/engine.ts";
import { OutputConstraintError } from "../engine/errors.ts";
import type { ChatMessage } from "../engine/tokenizer.ts";
import { inRoute, unenforceableSchema } from "../errors.ts";
import { serveGeneration, type Exchange, type GenerationFormat } from "./generation-response.ts";
import { checkPromptLength } from "./limits.ts";

/**
 * A chat request in engine terms. Every chat-shaped protocol (chat completions, Responses, Anthropic Messages)
 * converts its wire request into this once; from here on they share one path: template, sampler, scheduler,
 * cancellation and the request deadline.
 */
export type ChatRequest = Omit<Extract<CompletionRequest, { messages: readonly ChatMessage[] }>, "signal">;

/** How a protocol names what errors point at: its route, and the fields holding the conversation and schemas. */
export interface ChatFields {
  route: string;
  /** The conversation: chat's and Anthropic's `messages`, Responses' `input`. */
  conversation: string;
  /** The output format's schema. */
  format: string;
  /** Tool `index`'s parameters schema. */
  tool(index: number): string;
}

/**
 * Runs a chat request and answers it whole or streamed, in the shape `format` gives it. With `fields`, errors the
 * engine raises before any output name the protocol's own route and fields.
 */
export function serveChat<Whole>(
  engine: Engine,
  exchange: Exchange,
  request: ChatRequest,
  format: GenerationFormat<Whole>,
  fields?: ChatFields,
): Promise<Whole | Response> {
  const start = async (signal: AbortSignal) => {
    const run = engine.createCompletion({ ...request, signal });
    if (!fields) return run;
    const paramOf = (argument: string) => (argument === "messages" ? fields.conversation : argument);
    return inRoute(inSchemaTerms(run, fields), { route: fields.route, paramOf });
  };
  return serveGeneration(exchange, start, format);
}

async function inSchemaTerms<T>(work: Promise<T>, fields: ChatFields): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof OutputConstraintError)) throw error;
    throw unenforceableSchema(error, error.toolIndex === undefined ? fields.format : fields.tool(error.toolIndex));
  }
}

/** A conversation counts as one prompt for `--max-prompt-chars`: the characters of every message, summed. */
export function checkConversationLength(messages: readonly ChatMessage[], param: string, limits: Limits): void {
  const calls = (m: ChatMessage) => (m.toolCalls ?? []).reduce((sum, c) => sum + c.name.length + c.arguments.length, 0);
  checkPromptLength(messages.reduce((sum, m) => sum + m.content.length + calls(m), 0), param, limits);
}

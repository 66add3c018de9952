import { Elysia } from "elysia";
import type { Limits } from "../config.ts";
import type { CompletionRun } from "../engine/completions.ts";
import type { Engine } from "../engine/engine.ts";
import { toOpenAIError } from "../errors.ts";
import type { ResponseErrorEvent } from "../openai/response-stream-events.ts";
import { ResponseCreateParams, type Response as ResponseObject } from "../openai/responses.ts";
import { serveChat, type ChatFields } from "./chat-service.ts";
import { unixSeconds } from "./generation-params.ts";
import { exchangeOf, type Head } from "./generation-response.ts";
import { ResponseOutputBuilder, type OutputEvent, type Unnumbered } from "./responses-output.ts";
import { toChatRequest } from "./responses-request.ts";
import { typedEventFraming } from "./sse.ts";

/** OpenAI's Responses API (stateless) over the shared chat path. */
export const responsesRoutes = (engine: Engine, limits: Limits) =>
  new Elysia({ name: "responses" }).post(
    "/v1/responses",
    ({ body, request, server }) => {
      const chat = toChatRequest(body, limits);
      const echo = echoOf(body);
      const exchange = exchangeOf({ request, server }, { stream: body.stream }, limits.requestTimeoutSeconds);
      const format = {
        idPrefix: "resp_",
        collect: (run: CompletionRun, head: Head) => collect(run, head, echo),
        chunks: (run: CompletionRun, head: Head) => streamEvents(run, head, echo),
        framing,
      };
      return serveChat(engine, exchange, chat, format, FIELDS);
    },
    { body: ResponseCreateParams },
  );

const FIELDS: ChatFields = {
  route: "/v1/responses",
  conversation: "input",
  format: "text.format.schema",
  tool: (i) => `tools[${i}].parameters`,
};

const framing = typedEventFraming(
  (error): Unnumbered<ResponseErrorEvent> => {
    const { message, param, code } = toOpenAIError(error);
    return { type: "error", code, message, param };
  },
  { numbered: true },
);

/** The request's settings that a response object repeats back. */
type Echo = Pick<
  ResponseObject,
  | "instructions"
  | "max_output_tokens"
  | "max_tool_calls"
  | "parallel_tool_calls"
  | "temperature"
  | "top_p"
  | "text"
  | "tool_choice"
  | "tools"
  | "user"
  | "metadata"
>;

function echoOf(body: ResponseCreateParams): Echo {
  return {
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: body.max_tool_calls ?? null,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    temperature: body.temperature ?? 1,
    top_p: body.top_p ?? 1,
    text: { format: body.text?.format ?? { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    user: body.user ?? null,
    metadata: body.metadata ?? {},
  };
}

/** The response object; `builder` undefined while generation has not ended. */
function responseOf(head: Head, echo: Echo, run: CompletionRun, builder?: ResponseOutputBuilder): ResponseObject {
  const incomplete = builder?.incomplete === true;
  const usage = builder && {
    input_tokens: run.promptTokens,
    input_tokens_details: { cached_tokens: run.cachedTokens, cache_write_tokens: 0 },
    output_tokens: run.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: run.promptTokens + run.completionTokens,
  };
  return {
    id: head.id,
    object: "response",
    created_at: head.created,
    completed_at: builder ? unixSeconds() : null,
    status: builder ? (incomplete ? "incomplete" : "completed") : "in_progress",
    background: false,
    error: null,
    incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
    ...echo,
    model: head.model,
    output: builder ? builder.items : [],
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    truncation: "disabled",
    usage: usage ?? null,
  };
}

async function collect(run: CompletionRun, head: Head, echo: Echo): Promise<ResponseObject> {
  const builder = new ResponseOutputBuilder();
  // The whole response needs only the items the builder keeps; the stream events are dropped.
  for await (const event of run.events()) drain(builder.push(event));
  drain(builder.end());
  return responseOf(head, echo, run, builder);
}

/**
 * The SDK's order: response.created, response.in_progress, each output item's events, then response.completed (or
 * response.incomplete when max_output_tokens cut it) with the usage, once generation has ended.
 */
async function* streamEvents(run: CompletionRun, head: Head, echo: Echo): AsyncGenerator<OutputEvent> {
  yield { type: "response.created", response: responseOf(head, echo, run) };
  yield { type: "response.in_progress", response: responseOf(head, echo, run) };
  const builder = new ResponseOutputBuilder();
  for await (const event of run.events()) yield* builder.push(event);
  yield* builder.end();
  const response = responseOf(head, echo, run, builder);
  yield { type: builder.incomplete ? "response.incomplete" : "response.completed", response };
}

function drain(events: Iterable<unknown>): void {
  for (const _ of events);
}

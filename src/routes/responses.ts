import { Elysia } from "elysia";
import type { Limits } from "../config.ts";
import type { CompletionEvent, CompletionRun } from "../engine/completions.ts";
import type { Engine } from "../engine/engine.ts";
import { toOpenAIError } from "../errors.ts";
import type { ResponseErrorEvent, ResponseStreamEvent } from "../openai/response-stream-events.ts";
import {
  ResponseCreateParams,
  type Response as ResponseObject,
  type ResponseOutputMessage,
  type ResponseOutputText,
} from "../openai/responses.ts";
import { serveChat } from "./chat-service.ts";
import { requestId, unixSeconds } from "./generation-params.ts";
import { exchangeOf, type Head } from "./generation-response.ts";
import { toChatRequest } from "./responses-request.ts";
import { typedEventFraming } from "./sse.ts";

/** OpenAI's Responses API (stateless) over the shared chat path. */
export const responsesRoutes = (engine: Engine, limits: Limits) =>
  new Elysia({ name: "responses" }).post(
    "/v1/responses",
    ({ body, request, server }) => {
      const chat = toChatRequest(body, limits);
      const echo = echoOf(body);
      return serveChat(engine, exchangeOf({ request, server }, { stream: body.stream }, limits.requestTimeoutSeconds), chat, {
        idPrefix: "resp_",
        collect: (run, head) => collect(run, head, echo),
        chunks: (run, head) => streamEvents(run, head, echo),
        framing,
      });
    },
    { body: ResponseCreateParams },
  );

/** Stream events before the framing numbers them. */
type Unnumbered<E> = E extends unknown ? Omit<E, "sequence_number"> : never;

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

type Finish = Extract<CompletionEvent, { kind: "finish" }>;
type Outcome = { finish?: Finish; run: CompletionRun } | undefined;

/** The response object; `outcome` undefined while generation is still running. */
function responseOf(head: Head, echo: Echo, output: ResponseOutputMessage[], outcome: Outcome): ResponseObject {
  const incomplete = outcome?.finish?.reason === "length";
  const usage = outcome && {
    input_tokens: outcome.run.promptTokens,
    input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    output_tokens: outcome.run.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: outcome.run.promptTokens + outcome.run.completionTokens,
  };
  return {
    id: head.id,
    object: "response",
    created_at: head.created,
    completed_at: outcome ? unixSeconds() : null,
    status: outcome ? (incomplete ? "incomplete" : "completed") : "in_progress",
    background: false,
    error: null,
    incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
    ...echo,
    model: head.model,
    output,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    truncation: "disabled",
    usage: usage ?? null,
  };
}

function textPart(text: string): ResponseOutputText {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

function messageItem(id: string, status: ResponseOutputMessage["status"], content: ResponseOutputText[]): ResponseOutputMessage {
  return { id, type: "message", role: "assistant", status, content };
}

function itemStatus(finish: Finish | undefined): ResponseOutputMessage["status"] {
  return finish?.reason === "length" ? "incomplete" : "completed";
}

async function collect(run: CompletionRun, head: Head, echo: Echo): Promise<ResponseObject> {
  let text = "";
  let finish: Finish | undefined;
  for await (const event of run.events()) {
    if (event.kind === "text") text += event.text;
    else finish = event;
  }
  const message = messageItem(requestId("msg_"), itemStatus(finish), [textPart(text)]);
  return responseOf(head, echo, [message], { finish, run });
}

/**
 * The SDK's order: response.created, response.in_progress; for the message, output_item.added, content_part.added,
 * output_text deltas, output_text.done, content_part.done, output_item.done; then response.completed (or
 * response.incomplete when max_output_tokens cut it) with the usage.
 */
async function* streamEvents(run: CompletionRun, head: Head, echo: Echo): AsyncGenerator<Unnumbered<ResponseStreamEvent>> {
  yield { type: "response.created", response: responseOf(head, echo, [], undefined) };
  yield { type: "response.in_progress", response: responseOf(head, echo, [], undefined) };
  const item = { item_id: requestId("msg_"), output_index: 0 };
  const part = { ...item, content_index: 0 };
  yield { type: "response.output_item.added", output_index: 0, item: messageItem(item.item_id, "in_progress", []) };
  yield { type: "response.content_part.added", ...part, part: textPart("") };
  let text = "";
  let finish: Finish | undefined;
  for await (const event of run.events()) {
    if (event.kind === "finish") {
      finish = event;
      continue;
    }
    text += event.text;
    yield { type: "response.output_text.delta", ...part, delta: event.text, logprobs: [] };
  }
  yield { type: "response.output_text.done", ...part, text, logprobs: [] };
  yield { type: "response.content_part.done", ...part, part: textPart(text) };
  const message = messageItem(item.item_id, itemStatus(finish), [textPart(text)]);
  yield { type: "response.output_item.done", output_index: 0, item: message };
  const response = responseOf(head, echo, [message], { finish, run });
  yield { type: response.status === "incomplete" ? "response.incomplete" : "response.completed", response };
}

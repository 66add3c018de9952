import { t, type TSchema } from "elysia";
import { Response, ResponseFunctionToolCall, ResponseOutputItem, ResponseOutputText } from "./responses.ts";

// The typed events of a streamed response, named as openai-node's ResponseStreamEvent members. Every event carries
// a `sequence_number` that counts from 0 within its stream.

const lifecycle = <T extends string>(type: T) =>
  t.Object({ type: t.Literal(type), sequence_number: t.Integer(), response: Response });

const inItem = <T extends string, P extends Record<string, TSchema>>(type: T, fields: P) =>
  t.Object({ type: t.Literal(type), sequence_number: t.Integer(), output_index: t.Integer(), ...fields });

export const ResponseCreatedEvent = lifecycle("response.created");
export const ResponseInProgressEvent = lifecycle("response.in_progress");
export const ResponseCompletedEvent = lifecycle("response.completed");
export const ResponseIncompleteEvent = lifecycle("response.incomplete");

export const ResponseOutputItemAddedEvent = inItem("response.output_item.added", { item: ResponseOutputItem });
export const ResponseOutputItemDoneEvent = inItem("response.output_item.done", { item: ResponseOutputItem });

const inPart = { item_id: t.String(), content_index: t.Integer() };
export const ResponseContentPartAddedEvent = inItem("response.content_part.added", { ...inPart, part: ResponseOutputText });
export const ResponseContentPartDoneEvent = inItem("response.content_part.done", { ...inPart, part: ResponseOutputText });
export const ResponseTextDeltaEvent = inItem("response.output_text.delta", {
  ...inPart,
  delta: t.String(),
  logprobs: t.Array(t.Unknown()),
});
export const ResponseTextDoneEvent = inItem("response.output_text.done", {
  ...inPart,
  text: t.String(),
  logprobs: t.Array(t.Unknown()),
});

export const ResponseFunctionCallArgumentsDeltaEvent = inItem("response.function_call_arguments.delta", {
  item_id: t.String(),
  delta: t.String(),
});
export const ResponseFunctionCallArgumentsDoneEvent = inItem("response.function_call_arguments.done", {
  item_id: t.String(),
  name: ResponseFunctionToolCall.properties.name,
  arguments: t.String(),
});

/** A failure mid-stream: OpenAI's `error` event. */
export const ResponseErrorEvent = t.Object({
  type: t.Literal("error"),
  sequence_number: t.Integer(),
  code: t.Union([t.String(), t.Null()]),
  message: t.String(),
  param: t.Union([t.String(), t.Null()]),
});
export type ResponseErrorEvent = typeof ResponseErrorEvent.static;

export const ResponseStreamEvent = t.Union([
  ResponseCreatedEvent,
  ResponseInProgressEvent,
  ResponseCompletedEvent,
  ResponseIncompleteEvent,
  ResponseOutputItemAddedEvent,
  ResponseOutputItemDoneEvent,
  ResponseContentPartAddedEvent,
  ResponseContentPartDoneEvent,
  ResponseTextDeltaEvent,
  ResponseTextDoneEvent,
  ResponseFunctionCallArgumentsDeltaEvent,
  ResponseFunctionCallArgumentsDoneEvent,
]);
export type ResponseStreamEvent = typeof ResponseStreamEvent.static;

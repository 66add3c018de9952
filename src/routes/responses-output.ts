import type { CompletionEvent } from "../engine/completions.ts";
import type { ResponseStreamEvent } from "../openai/response-stream-events.ts";
import type {
  ResponseFunctionToolCall,
  ResponseOutputItem,
  ResponseOutputMessage,
  ResponseOutputText,
} from "../openai/responses.ts";
import { requestId } from "./generation-params.ts";

/** Stream events before the framing numbers them. */
export type Unnumbered<E> = E extends unknown ? Omit<E, "sequence_number"> : never;
export type OutputEvent = Unnumbered<ResponseStreamEvent>;
export type Finish = Extract<CompletionEvent, { kind: "finish" }>;

type ItemStatus = ResponseOutputMessage["status"];

function textPart(text: string): ResponseOutputText {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

/**
 * Turns one choice's engine events into a response's output items, and into the stream events that build them in
 * the SDK's order: an item is added, its content grows by deltas, then it is done. The whole response and the stream
 * come from the same walk, so they cannot disagree.
 */
export class ResponseOutputBuilder {
  readonly items: ResponseOutputItem[] = [];
  finish: Finish | undefined;
  private message: { item: ResponseOutputMessage; text: string; index: number } | undefined;
  private call: { item: ResponseFunctionToolCall; index: number } | undefined;

  /** The events `event` adds to the stream. */
  *push(event: CompletionEvent): Generator<OutputEvent> {
    switch (event.kind) {
      case "finish":
        this.finish = event;
        return;
      case "text": {
        if (!event.text) return;
        if (!this.message) yield* this.openMessage();
        const message = this.message!;
        message.text += event.text;
        yield { type: "response.output_text.delta", ...this.where(message), delta: event.text, logprobs: [] };
        return;
      }
      case "tool_call": {
        yield* this.close();
        const item: ResponseFunctionToolCall = {
          id: requestId("fc_"),
          type: "function_call",
          status: "in_progress",
          call_id: event.id,
          name: event.name,
          arguments: "",
        };
        this.call = { item, index: this.items.push(item) - 1 };
        yield { type: "response.output_item.added", output_index: this.call.index, item: { ...item } };
        return;
      }
      case "tool_arguments": {
        const call = this.call!;
        call.item.arguments += event.text;
        yield { type: "response.function_call_arguments.delta", item_id: call.item.id, output_index: call.index, delta: event.text };
      }
    }
  }

  /** Closes what is open once generation has ended; a turn with no output still answers one (empty) message. */
  *end(): Generator<OutputEvent> {
    if (this.items.length === 0) yield* this.openMessage();
    yield* this.close();
  }

  private *close(): Generator<OutputEvent> {
    yield* this.closeMessage();
    const call = this.call;
    if (!call) return;
    this.call = undefined;
    const { item, index } = call;
    yield { type: "response.function_call_arguments.done", item_id: item.id, output_index: index, name: item.name, arguments: item.arguments };
    item.status = this.status;
    yield { type: "response.output_item.done", output_index: index, item: { ...item } };
  }

  /** `max_output_tokens` cut the turn short. */
  get incomplete(): boolean {
    return this.finish?.reason === "length";
  }

  private get status(): ItemStatus {
    return this.incomplete ? "incomplete" : "completed";
  }

  private where(message: { item: ResponseOutputMessage; index: number }) {
    return { item_id: message.item.id, output_index: message.index, content_index: 0 };
  }

  private *openMessage(): Generator<OutputEvent> {
    const item: ResponseOutputMessage = { id: requestId("msg_"), type: "message", role: "assistant", status: "in_progress", content: [] };
    this.message = { item, text: "", index: this.items.push(item) - 1 };
    yield { type: "response.output_item.added", output_index: this.message.index, item: { ...item, content: [] } };
    yield { type: "response.content_part.added", ...this.where(this.message), part: textPart("") };
  }

  private *closeMessage(): Generator<OutputEvent> {
    const message = this.message;
    if (!message) return;
    this.message = undefined;
    const { item, text } = message;
    yield { type: "response.output_text.done", ...this.where(message), text, logprobs: [] };
    yield { type: "response.content_part.done", ...this.where(message), part: textPart(text) };
    item.status = this.status;
    item.content = [textPart(text)];
    yield { type: "response.output_item.done", output_index: message.index, item: { ...item } };
  }
}

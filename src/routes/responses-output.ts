import type { CompletionEvent } from "../engine/completions.ts";
import type { ResponseStreamEvent } from "../openai/response-stream-events.ts";
import type { ResponseOutputItem, ResponseOutputMessage, ResponseOutputText } from "../openai/responses.ts";
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

  /** The events `event` adds to the stream. */
  *push(event: CompletionEvent): Generator<OutputEvent> {
    if (event.kind === "finish") {
      this.finish = event;
      return;
    }
    if (event.kind !== "text") return; // tool calls: this route sends no tools yet
    if (!this.message) yield* this.openMessage();
    const message = this.message!;
    message.text += event.text;
    yield { type: "response.output_text.delta", ...this.where(message), delta: event.text, logprobs: [] };
  }

  /** Closes what is open once generation has ended; a turn with no output still answers one (empty) message. */
  *end(): Generator<OutputEvent> {
    if (this.items.length === 0) yield* this.openMessage();
    yield* this.closeMessage();
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

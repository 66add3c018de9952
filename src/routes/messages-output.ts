import type { CompletionEvent } from "../engine/completions.ts";
import type { ContentBlock, Message, StopReason } from "../anthropic/messages.ts";
import type { RawMessageStreamEvent } from "../anthropic/streaming.ts";

export type Finish = Extract<CompletionEvent, { kind: "finish" }>;

/**
 * Turns one choice's engine events into a message's content blocks, and into the stream events that build them in
 * Anthropic's order: each block starts, grows by deltas and stops. The whole message and the stream come from the
 * same walk, so they cannot disagree.
 */
export class MessageContentBuilder {
  readonly content: ContentBlock[] = [];
  finish: Finish | undefined;
  private open: { index: number; block: Extract<ContentBlock, { type: "text" }> } | undefined;

  /** The events `event` adds to the stream. */
  *push(event: CompletionEvent): Generator<RawMessageStreamEvent> {
    if (event.kind === "finish") {
      this.finish = event;
      return;
    }
    if (event.kind !== "text") return; // tool calls: this route sends no tools yet
    if (!event.text) return;
    if (!this.open) {
      const block = { type: "text" as const, text: "", citations: null };
      this.open = { index: this.content.push(block) - 1, block };
      yield { type: "content_block_start", index: this.open.index, content_block: { ...block } };
    }
    this.open.block.text += event.text;
    yield { type: "content_block_delta", index: this.open.index, delta: { type: "text_delta", text: event.text } };
  }

  /** Closes the open block once generation has ended. */
  *end(): Generator<RawMessageStreamEvent> {
    if (!this.open) return;
    yield { type: "content_block_stop", index: this.open.index };
    this.open = undefined;
  }

  /** Why the turn ended, in Anthropic's terms; null while it has not. */
  get stop(): Pick<Message, "stop_reason" | "stop_sequence"> {
    const finish = this.finish;
    if (!finish) return { stop_reason: null, stop_sequence: null };
    const reason: StopReason =
      finish.reason === "length" ? "max_tokens" : finish.stopSequence === undefined ? "end_turn" : "stop_sequence";
    return { stop_reason: reason, stop_sequence: finish.stopSequence ?? null };
  }
}

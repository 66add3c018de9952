import type { CompletionEvent } from "../engine/completions.ts";
import type { ContentBlock, Message, StopReason, TextBlock, ToolUseBlock } from "../anthropic/messages.ts";
import type { RawMessageStreamEvent } from "../anthropic/streaming.ts";
import { toToolUseId } from "./messages-tools.ts";

export type Finish = Extract<CompletionEvent, { kind: "finish" }>;

/**
 * Turns one choice's engine events into a message's content blocks, and into the stream events that build them in
 * Anthropic's order: each block starts, grows by deltas and stops. The whole message and the stream come from the
 * same walk, so they cannot disagree.
 */
export class MessageContentBuilder {
  readonly content: ContentBlock[] = [];
  finish: Finish | undefined;
  private open: { index: number; block: TextBlock } | { index: number; block: ToolUseBlock; json: string } | undefined;

  /** The events `event` adds to the stream. */
  *push(event: CompletionEvent): Generator<RawMessageStreamEvent> {
    switch (event.kind) {
      case "finish":
        this.finish = event;
        return;
      case "text": {
        if (!event.text) return;
        if (this.open?.block.type !== "text") {
          yield* this.end();
          const block: TextBlock = { type: "text", text: "", citations: null };
          this.open = { index: this.content.push(block) - 1, block };
          yield { type: "content_block_start", index: this.open.index, content_block: { ...block } };
        }
        const open = this.open as { index: number; block: TextBlock };
        open.block.text += event.text;
        yield { type: "content_block_delta", index: open.index, delta: { type: "text_delta", text: event.text } };
        return;
      }
      case "tool_call": {
        yield* this.end();
        const block: ToolUseBlock = { type: "tool_use", id: toToolUseId(event.id), name: event.name, input: {}, caller: { type: "direct" } };
        this.open = { index: this.content.push(block) - 1, block, json: "" };
        yield { type: "content_block_start", index: this.open.index, content_block: { ...block } };
        return;
      }
      case "tool_arguments": {
        const open = this.open as { index: number; block: ToolUseBlock; json: string };
        open.json += event.text;
        yield { type: "content_block_delta", index: open.index, delta: { type: "input_json_delta", partial_json: event.text } };
      }
    }
  }

  /** Closes the open block (once generation has ended, or another block begins). */
  *end(): Generator<RawMessageStreamEvent> {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    // Constrained decoding makes the arguments one JSON object; a turn cut by max_tokens leaves them unfinished.
    if ("json" in open) open.block.input = parseInput(open.json);
    yield { type: "content_block_stop", index: open.index };
  }

  /** Why the turn ended, in Anthropic's terms; null while it has not. */
  get stop(): Pick<Message, "stop_reason" | "stop_sequence"> {
    const finish = this.finish;
    if (!finish) return { stop_reason: null, stop_sequence: null };
    const reason: StopReason =
      finish.reason === "length"
        ? "max_tokens"
        : finish.reason === "tool_calls"
          ? "tool_use"
          : finish.stopSequence === undefined
            ? "end_turn"
            : "stop_sequence";
    return { stop_reason: reason, stop_sequence: finish.stopSequence ?? null };
  }
}

function parseInput(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return {};
  }
}

import { wrapRun, type CompletionEvent, type CompletionRun } from "./completion-run.ts";
import { ToolCallParser } from "./constraints/tool-call-parser.ts";

/** OpenAI-style call ids (`call_` and 24 letters and digits); other protocols may present them as they like. */
export function newToolCallId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `call_${Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("")}`;
}

/**
 * A run whose choices may answer with tool calls: each choice's text goes through its own ToolCallParser, calls
 * come out as tool_call / tool_arguments events, and a choice that called tools finishes with "tool_calls".
 */
export function withToolCalls(run: CompletionRun): CompletionRun {
  const parsers = new Map<number, ToolCallParser>();
  async function* events(): AsyncGenerator<CompletionEvent> {
    for await (const event of run.events()) {
      let parser = parsers.get(event.index);
      if (!parser) parsers.set(event.index, (parser = new ToolCallParser()));
      if (event.kind === "text") {
        for (const piece of parser.push(event.text)) {
          if (piece.kind === "text") yield { kind: "text", index: event.index, text: piece.text };
          else if (piece.kind === "call") yield { kind: "tool_call", index: event.index, call: piece.call, id: newToolCallId(), name: piece.name };
          else yield { kind: "tool_arguments", index: event.index, call: piece.call, text: piece.text };
        }
      } else if (event.kind === "finish" && event.reason === "stop" && parser.callCount > 0) {
        yield { ...event, reason: "tool_calls" };
      } else yield event;
    }
  }
  return wrapRun(run, events);
}

import { TOOL_CALL_CLOSE, TOOL_CALL_OPEN, TOOL_CALL_SEPARATOR } from "./tool-call-grammar.ts";

export type ToolCallPiece =
  | { kind: "text"; text: string }
  /** A call starts: its position in the turn and the tool's name. */
  | { kind: "call"; call: number; name: string }
  /** More of the call's arguments (JSON text; the pieces of one call concatenate to its arguments). */
  | { kind: "arguments"; call: number; text: string };

const NAME_START = `${TOOL_CALL_OPEN}{"name": "`;
const ARGS_START = `, "arguments": `;
const CALL_END = `}${TOOL_CALL_CLOSE}`;

/**
 * Splits a constrained turn's text, as it streams, into answer text and tool calls. The grammar fixes the frame
 * (tool-call-grammar.ts), so this only follows it: a turn whose first character is "<" is calls, the arguments
 * object ends where its braces balance.
 */
export class ToolCallParser {
  private mode: "start" | "text" | "frame" | "name" | "args" | "between" = "start";
  private expect = "";
  /** Where the frame text being matched leads. */
  private then: "name" | "args" | "between" = "name";
  private buffer = "";
  private name = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  private calls = 0;

  get callCount(): number {
    return this.calls;
  }

  push(text: string): ToolCallPiece[] {
    const out: ToolCallPiece[] = [];
    let args = "";
    const flushArgs = () => {
      if (args) out.push({ kind: "arguments", call: this.calls - 1, text: args });
      args = "";
    };
    for (const ch of text) {
      switch (this.mode) {
        case "start":
          if (ch !== "<") {
            this.mode = "text";
            out.push({ kind: "text", text: text });
            return out;
          }
          this.mode = "frame";
          this.expect = NAME_START;
          this.then = "name";
          this.buffer = ch;
          break;
        case "frame":
          this.buffer += ch;
          if (!this.expect.startsWith(this.buffer)) throw new Error("tool call text left its frame");
          if (this.buffer === this.expect) {
            this.buffer = "";
            this.mode = this.then;
            this.depth = 0;
            this.inString = false;
            this.escaped = false;
          }
          break;
        case "name":
          if (ch === '"' && !this.escaped) {
            out.push({ kind: "call", call: this.calls++, name: JSON.parse(`"${this.name}"`) as string });
            this.name = "";
            this.mode = "frame";
            this.expect = `"${ARGS_START}`;
            this.then = "args";
            this.buffer = '"';
          } else {
            this.escaped = !this.escaped && ch === "\\";
            this.name += ch;
          }
          break;
        case "args":
          args += ch;
          if (this.inString) {
            if (this.escaped) this.escaped = false;
            else if (ch === "\\") this.escaped = true;
            else if (ch === '"') this.inString = false;
          } else if (ch === '"') this.inString = true;
          else if (ch === "{" || ch === "[") this.depth++;
          else if (ch === "}" || ch === "]") {
            if (--this.depth === 0) {
              flushArgs();
              this.mode = "frame";
              this.expect = CALL_END;
              this.then = "between";
              this.buffer = "";
            }
          }
          break;
        case "between":
          // After a call: a separator and the next call's frame.
          this.mode = "frame";
          this.expect = TOOL_CALL_SEPARATOR + NAME_START;
          this.then = "name";
          this.buffer = ch;
          if (!this.expect.startsWith(this.buffer)) throw new Error("tool call text left its frame");
          break;
        case "text":
          out.push({ kind: "text", text: text });
          return out;
      }
    }
    flushArgs();
    return out;
  }
}

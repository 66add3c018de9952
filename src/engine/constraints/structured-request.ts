/**
 * Structured output and tool calling in engine terms: protocol-neutral (the OpenAI chat route, /v1/responses and
 * /v1/messages all convert their wire fields into these once).
 */

/** What the assistant's text must be. */
export type OutputFormat =
  | { type: "text" }
  /** Any JSON object. */
  | { type: "json-object" }
  /** A JSON document that validates against `schema` (JSON Schema). */
  | { type: "json-schema"; schema: unknown };

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters: unknown;
}

export type ToolChoice =
  /** The model chooses between text and tool calls. */
  | { type: "auto" }
  /** Text only; the tools are not shown to the model. */
  | { type: "none" }
  /** At least one tool call. */
  | { type: "required" }
  /** Exactly one call to this tool. */
  | { type: "tool"; name: string };

export interface ToolSet {
  tools: ToolDefinition[];
  choice: ToolChoice;
  /** Several calls in one turn (else at most one). */
  parallel: boolean;
}

/** A tool call the assistant made, as it comes back in the conversation (arguments: JSON text). */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

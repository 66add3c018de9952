import type { OutputFormat, ToolChoice, ToolSet } from "../engine/constraints/structured-request.ts";
import { invalidRequest, unsupportedParameter } from "../errors.ts";
import type { ResponseCreateParams } from "../openai/responses.ts";

/** Arguments of a tool with no `parameters`: an object with any members. */
const ANY_OBJECT = { type: "object" };

/** `text.format` in engine terms: text, any JSON object, or a document that validates against a JSON Schema. */
export function toOutputFormat(format: NonNullable<ResponseCreateParams["text"]>["format"]): OutputFormat | undefined {
  if (!format || format.type === "text") return undefined;
  if (format.type === "json_object") return { type: "json-object" };
  if (format.type === "json_schema") {
    const schema = (format as { schema?: unknown }).schema;
    if (typeof schema !== "object" || schema === null) {
      throw invalidRequest("Missing required parameter: 'text.format.schema'.", "text.format.schema", "missing_required_parameter");
    }
    return { type: "json-schema", schema };
  }
  throw invalidRequest(
    `Invalid value: '${format.type}'. Supported values are: 'text', 'json_object' and 'json_schema'.`,
    "text.format.type",
    "invalid_value",
  );
}

interface FunctionTool {
  type: "function";
  name?: unknown;
  description?: unknown;
  parameters?: unknown;
}

/** `tools` (function tools only), `tool_choice` and `parallel_tool_calls` in engine terms; undefined without tools. */
export function toToolSet(body: ResponseCreateParams): ToolSet | undefined {
  const tools = body.tools ?? [];
  const names = new Set<string>();
  const definitions = tools.map((tool, i) => {
    if (tool.type !== "function") {
      throw unsupportedParameter(`tools[${i}].type`, `Only 'function' tools are served; '${tool.type}' is a built-in tool of OpenAI's.`);
    }
    const { name, description, parameters } = tool as FunctionTool;
    if (typeof name !== "string" || name.length === 0) {
      throw invalidRequest(`Missing required parameter: 'tools[${i}].name'.`, `tools[${i}].name`, "missing_required_parameter");
    }
    if (names.has(name)) throw invalidRequest(`Duplicate tool name '${name}'.`, `tools[${i}].name`, "invalid_value");
    names.add(name);
    if (parameters != null && (typeof parameters !== "object" || (parameters as { type?: unknown }).type !== "object")) {
      throw invalidRequest("A function's parameters must be a JSON Schema of type 'object'.", `tools[${i}].parameters`, "invalid_value");
    }
    return { name, ...(typeof description === "string" ? { description } : {}), parameters: parameters ?? ANY_OBJECT };
  });
  const choice = toToolChoice(body.tool_choice, names);
  if (definitions.length === 0) return undefined;
  return { tools: definitions, choice, parallel: body.parallel_tool_calls ?? true };
}

function toToolChoice(value: unknown, names: ReadonlySet<string>): ToolChoice {
  if (value == null) return { type: names.size > 0 ? "auto" : "none" };
  if (value === "none" || value === "auto") return { type: value };
  if (value === "required") {
    if (names.size === 0) throw invalidRequest("tool_choice 'required' needs 'tools'.", "tool_choice", "invalid_value");
    return { type: "required" };
  }
  const choice = value as { type?: unknown; name?: unknown };
  if (typeof value === "object" && choice.type === "function") {
    if (typeof choice.name !== "string") {
      throw invalidRequest("Missing required parameter: 'tool_choice.name'.", "tool_choice.name", "missing_required_parameter");
    }
    if (!names.has(choice.name)) {
      throw invalidRequest(`Invalid value: tool_choice names '${choice.name}', which is not in 'tools'.`, "tool_choice.name", "invalid_value");
    }
    return { type: "tool", name: choice.name };
  }
  throw unsupportedParameter("tool_choice", "Only 'none', 'auto', 'required' and {\"type\": \"function\", \"name\": …} are accepted.");
}

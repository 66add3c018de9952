import type { OutputFormat, ToolChoice, ToolSet } from "../engine/constraints/structured-request.ts";
import { invalidRequest, unsupportedParameter } from "../errors.ts";
import type { ChatCompletionCreateParams } from "../openai/chat.ts";

/** Arguments of a tool with no `parameters`: an object with any members (OpenAI's reading of an omitted schema). */
const ANY_OBJECT = { type: "object" };

/** `response_format` in engine terms; a schema the engine cannot enforce is refused later, naming the keyword. */
export function toOutputFormat(format: ChatCompletionCreateParams["response_format"]): OutputFormat {
  if (!format || format.type === "text") return { type: "text" };
  if (format.type === "json_object") return { type: "json-object" };
  if (format.type === "json_schema") {
    if (!format.json_schema) {
      throw invalidRequest("Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema", "missing_required_parameter");
    }
    return { type: "json-schema", schema: format.json_schema.schema ?? {} };
  }
  throw invalidRequest(
    `Invalid value: '${format.type}'. Supported values are: 'text', 'json_object' and 'json_schema'.`,
    "response_format.type",
    "invalid_value",
  );
}

/** `tools`, `tool_choice` and `parallel_tool_calls` in engine terms; undefined when the request has no tools. */
export function toToolSet(body: ChatCompletionCreateParams): ToolSet | undefined {
  const tools = body.tools ?? [];
  const choice = toToolChoice(body.tool_choice, tools.length > 0);
  if (tools.length === 0) return undefined;
  const names = new Set<string>();
  tools.forEach((tool, i) => {
    if (names.has(tool.function.name)) {
      throw invalidRequest(`Duplicate tool name '${tool.function.name}'.`, `tools[${i}].function.name`, "invalid_value");
    }
    names.add(tool.function.name);
    const parameters = tool.function.parameters;
    if (parameters && parameters.type !== undefined && parameters.type !== "object") {
      throw invalidRequest("A function's parameters must be a JSON Schema of type 'object'.", `tools[${i}].function.parameters`, "invalid_value");
    }
  });
  if (choice.type === "tool" && !names.has(choice.name)) {
    throw invalidRequest(`Invalid value: tool_choice names '${choice.name}', which is not in 'tools'.`, "tool_choice", "invalid_value");
  }
  return {
    tools: tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description === undefined ? {} : { description: t.function.description }),
      parameters: t.function.parameters ?? ANY_OBJECT,
    })),
    choice,
    parallel: body.parallel_tool_calls ?? true,
  };
}

function toToolChoice(value: unknown, hasTools: boolean): ToolChoice {
  if (value === undefined || value === null) return { type: hasTools ? "auto" : "none" };
  if (value === "none" || value === "auto" || value === "required") {
    if (value === "required" && !hasTools) throw invalidRequest("tool_choice 'required' needs 'tools'.", "tool_choice", "invalid_value");
    return { type: value };
  }
  if (typeof value === "object" && (value as { type?: unknown }).type === "function") {
    const name = (value as { function?: { name?: unknown } }).function?.name;
    if (typeof name !== "string") throw invalidRequest("Missing required parameter: 'tool_choice.function.name'.", "tool_choice.function.name", "missing_required_parameter");
    if (!hasTools) throw invalidRequest("tool_choice names a function but 'tools' is empty.", "tool_choice", "invalid_value");
    return { type: "tool", name };
  }
  if (typeof value === "object" && ["allowed_tools", "custom"].includes(String((value as { type?: unknown }).type))) {
    throw unsupportedParameter("tool_choice", "Only 'none', 'auto', 'required' and {\"type\": \"function\"} are accepted.");
  }
  throw invalidRequest("Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": …}}.", "tool_choice", "invalid_value");
}

import type { OutputFormat, ToolChoice, ToolSet } from "../engine/constraints/structured-request.ts";
import { invalidRequest, unsupportedParameter } from "../errors.ts";
import type { MessageCountTokensParams } from "../anthropic/messages.ts";

/** Anthropic's tool ids (`toolu_…`) for the engine's call ids (`call_…`): same letters, Anthropic's prefix. */
export function toToolUseId(callId: string): string {
  return `toolu_${callId.replace(/^call_/, "")}`;
}

interface CustomTool {
  name: string;
  type?: unknown;
  description?: unknown;
  input_schema?: unknown;
}

/** `tools` (client tools only) and `tool_choice` in engine terms; undefined without tools. */
export function toToolSet(body: MessageCountTokensParams): ToolSet | undefined {
  const tools = (body.tools ?? []) as CustomTool[];
  const names = new Set<string>();
  const definitions = tools.map((tool, i) => {
    if (tool.type != null && tool.type !== "custom") {
      throw unsupportedParameter(`tools[${i}].type`, `Only client tools are served; '${String(tool.type)}' is one of Anthropic's own tools.`);
    }
    if (names.has(tool.name)) throw invalidRequest(`tools: Tool names must be unique ('${tool.name}').`, `tools[${i}].name`);
    names.add(tool.name);
    const schema = tool.input_schema as { type?: unknown } | undefined;
    if (typeof schema !== "object" || schema === null || schema.type !== "object") {
      throw invalidRequest("input_schema must be a JSON Schema of type 'object'.", `tools[${i}].input_schema`);
    }
    return { name: tool.name, ...(typeof tool.description === "string" ? { description: tool.description } : {}), parameters: schema };
  });
  const choice = toToolChoice(body.tool_choice, names);
  if (definitions.length === 0) return undefined;
  const parallel = (body.tool_choice as { disable_parallel_tool_use?: unknown } | undefined)?.disable_parallel_tool_use !== true;
  return { tools: definitions, choice, parallel };
}

function toToolChoice(value: MessageCountTokensParams["tool_choice"], names: ReadonlySet<string>): ToolChoice {
  if (value === undefined) return { type: names.size > 0 ? "auto" : "none" };
  if (value.type === "auto" || value.type === "none") return { type: value.type };
  if (names.size === 0) throw invalidRequest(`tool_choice '${value.type}' needs 'tools'.`, "tool_choice.type");
  if (value.type === "any") return { type: "required" };
  if (value.type === "tool") {
    const name = (value as { name?: unknown }).name;
    if (typeof name !== "string" || !names.has(name)) {
      throw invalidRequest(`tool_choice.name: '${String(name)}' is not one of the tools.`, "tool_choice.name");
    }
    return { type: "tool", name };
  }
  throw invalidRequest(`Invalid value: expected 'auto', 'any', 'tool' or 'none'.`, "tool_choice.type");
}

/** `output_config.format` (a JSON Schema the output must follow) in engine terms. */
export function toOutputFormat(config: unknown): OutputFormat | undefined {
  if (config == null) return undefined;
  const { format, effort, ...rest } = config as { format?: { type?: unknown; schema?: unknown } | null; effort?: unknown };
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw unsupportedParameter(`output_config.${extra}`);
  if (effort != null) throw unsupportedParameter("output_config.effort");
  if (format == null) return undefined;
  if (format.type !== "json_schema") throw invalidRequest("Invalid value: expected 'json_schema'.", "output_config.format.type");
  if (typeof format.schema !== "object" || format.schema === null) {
    throw invalidRequest("Missing required parameter: 'output_config.format.schema'.", "output_config.format.schema");
  }
  return { type: "json-schema", schema: format.schema };
}

import { chars, GrammarBuilder, literal, type Element, type Grammar } from "./grammar.ts";
import { SchemaCompiler, SchemaError } from "./json-schema.ts";
import type { OutputFormat, ToolSet } from "./structured-request.ts";

/**
 * The text form of tool calls, the one Hermes- and Qwen-style chat templates use, so a model trained on it reads
 * and writes it natively; any other model is told about it by the default tool prompt:
 *
 *   <tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris"}}\n</tool_call>
 *
 * Several calls follow each other separated by "\n".
 */
export const TOOL_CALL_OPEN = "<tool_call>\n";
export const TOOL_CALL_CLOSE = "\n</tool_call>";
export const TOOL_CALL_SEPARATOR = "\n";

export function toolCallText(name: string, args: string): string {
  return `${TOOL_CALL_OPEN}{"name": ${JSON.stringify(name)}, "arguments": ${args}}${TOOL_CALL_CLOSE}`;
}

/** Where a schema error happened: the response format, or tool `index`'s parameters. */
export class ConstraintSourceError extends Error {
  constructor(
    readonly error: SchemaError,
    readonly toolIndex?: number,
  ) {
    super(error.message);
  }
}

/** The output format alone (tools absent or `none`): undefined for plain text. */
export function formatElements(b: GrammarBuilder, format: OutputFormat): Element[] | undefined {
  if (format.type === "text") return undefined;
  const compiler = new SchemaCompiler(b, format.type === "json-schema" ? format.schema : {});
  try {
    return format.type === "json-object" ? compiler.json.object() : compiler.value(format.schema, "");
  } catch (error) {
    throw error instanceof SchemaError ? new ConstraintSourceError(error) : error;
  }
}

/**
 * The grammar of a turn with tools: tool calls only (`required`, a named tool), or, for `auto`, either calls or the
 * answer — free text that does not start with "<", or the output format's JSON. Undefined when nothing is enforced.
 */
export function outputGrammar(format: OutputFormat, tools: ToolSet | undefined): Grammar | undefined {
  const b = new GrammarBuilder();
  const answer = formatElements(b, format);
  if (!tools || tools.choice.type === "none") return answer && b.build(answer);
  const choice = tools.choice;
  const selected = choice.type === "tool" ? tools.tools.filter((t) => t.name === choice.name) : tools.tools;
  const bodies = selected.map((tool) => {
    const index = tools.tools.indexOf(tool);
    const compiler = new SchemaCompiler(b, tool.parameters);
    try {
      const args = compiler.value(tool.parameters, "");
      return [...literal(`{"name": ${JSON.stringify(tool.name)}, "arguments": `), ...args, ...literal("}")];
    } catch (error) {
      throw error instanceof SchemaError ? new ConstraintSourceError(error, index) : error;
    }
  });
  const call = [...literal(TOOL_CALL_OPEN), b.ref("tool", bodies), ...literal(TOOL_CALL_CLOSE)];
  const calls = tools.parallel && choice.type !== "tool" ? b.repeat(call, 1, Infinity, literal(TOOL_CALL_SEPARATOR)) : call;
  if (choice.type !== "auto") return b.build(calls);
  // Not "<": the first character tells an answer from a call. Lone surrogates never appear in decoded text.
  const text = [chars([0, 0x3b, 0x3d, 0xd7ff, 0xe000, 0x10ffff]), b.star([chars([0, 0xd7ff, 0xe000, 0x10ffff])])];
  return b.build([b.ref("turn", [calls, answer ?? text])]);
}

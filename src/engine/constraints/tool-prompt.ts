import type { ToolCall, ToolDefinition } from "./structured-request.ts";
import { TOOL_CALL_CLOSE, TOOL_CALL_OPEN, toolCallText } from "./tool-call-grammar.ts";

/** A message as the tool prompt sees it (the engine's ChatMessage). */
export interface ToolPromptMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  name?: string;
  toolCallId?: string;
  toolCalls?: ToolCall[];
}

/**
 * The default tool prompt, for chat templates that do not render `tools` themselves. Kept short: small models have
 * small contexts.
 */
export function defaultToolPrompt(tools: readonly ToolDefinition[]): string {
  const list = tools.map((t) => JSON.stringify({ name: t.name, description: t.description, parameters: t.parameters })).join("\n");
  return (
    `You can call these tools:\n${list}\n` +
    `To call a tool, answer with only ${JSON.stringify(TOOL_CALL_OPEN.trim())}, a newline, ` +
    `{"name": <tool name>, "arguments": <arguments as JSON>}, a newline and ${JSON.stringify(TOOL_CALL_CLOSE.trim())}.`
  );
}

/**
 * Rewrites a conversation for a template without tool support: the tool prompt joins the first system message (or
 * becomes one), assistant tool calls are written in the tool-call text form, and tool results become user messages
 * wrapped in <tool_response> (templates without tools often refuse a "tool" role).
 */
export function withDefaultToolPrompt<M extends ToolPromptMessage>(messages: readonly M[], tools: readonly ToolDefinition[] | undefined): M[] {
  const out = messages.map((m): M => {
    if (m.role === "assistant" && m.toolCalls && m.toolCalls.length > 0) {
      const calls = m.toolCalls.map((c) => toolCallText(c.name, c.arguments)).join("\n");
      return { ...m, content: m.content ? `${m.content}\n${calls}` : calls, toolCalls: undefined };
    }
    if (m.role === "tool") return { ...m, role: "user", content: `<tool_response>\n${m.content}\n</tool_response>`, toolCallId: undefined };
    return m;
  });
  if (!tools || tools.length === 0) return out;
  const prompt = defaultToolPrompt(tools);
  const first = out[0];
  if (first?.role === "system") out[0] = { ...first, content: `${first.content}\n\n${prompt}` };
  else out.unshift({ role: "system", content: prompt } as M);
  return out;
}

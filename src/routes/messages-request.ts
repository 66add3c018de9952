import type { Limits } from "../config.ts";
import type { OutputFormat, ToolCall, ToolSet } from "../engine/constraints/structured-request.ts";
import type { ChatMessage } from "../engine/tokenizer.ts";
import { invalidRequest, unsupportedParameter } from "../errors.ts";
import type {
  ContentBlockParam,
  MessageCountTokensParams,
  MessageCreateParams,
  MessageParam,
} from "../anthropic/messages.ts";
import { checkConversationLength, type ChatRequest } from "./chat-service.ts";
import { checkAtMost, checkStop } from "./limits.ts";
import { toOutputFormat, toToolSet } from "./messages-tools.ts";

/**
 * Converts an Anthropic Messages request once into the chat request the chat route builds (tools and
 * `output_config.format` as the same output constraints), refusing by name what gpt3dev cannot honour. Errors are thrown in the shared form; the Messages routes' error mapping gives them
 * Anthropic's envelope.
 */
export function toChatRequest(body: MessageCreateParams, limits: Limits): ChatRequest {
  refuseUnsupported(body);
  checkAtMost(body.max_tokens, limits.maxTokens, "max_tokens", "max-tokens-cap");
  checkStop(body.stop_sequences, limits, "stop_sequences");
  const { messages, tools, format } = toConversation(body);
  checkConversationLength(messages, "messages", limits);
  return {
    model: body.model,
    messages,
    maxTokens: body.max_tokens,
    n: 1,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    ...(body.top_k ? { topK: body.top_k } : {}),
    stop: (body.stop_sequences ?? []).filter((s) => s.length > 0),
    ...(format ? { format } : {}),
    ...(tools ? { tools } : {}),
  };
}

/** What shapes the prompt (and the output's constraints): what /v1/messages generates from and count_tokens counts. */
export interface Conversation {
  messages: ChatMessage[];
  tools?: ToolSet;
  format?: OutputFormat;
}

/**
 * The conversation as the engine renders it: `system` first; in each message, text blocks joined, `tool_use` blocks
 * as the assistant's tool calls, `tool_result` blocks as tool messages ahead of the user's text.
 */
export function toConversation(body: MessageCountTokensParams): Conversation {
  refuseUnsupportedConversation(body);
  const messages: ChatMessage[] = [];
  if (body.system !== undefined) {
    const system = typeof body.system === "string" ? body.system : body.system.map((block) => block.text).join("\n");
    messages.push({ role: "system", content: system });
  }
  body.messages.forEach((message, i) => addMessage(messages, message, `messages[${i}]`));
  const last = body.messages.length - 1;
  if (body.messages[last]?.role === "assistant") {
    throw invalidRequest(
      "A final assistant message (prefilling the reply) is not supported by gpt3dev yet; end with a user message.",
      `messages[${last}].role`,
      "unsupported_parameter",
    );
  }
  const tools = toToolSet(body);
  const format = toOutputFormat(body.output_config);
  return { messages, ...(tools ? { tools } : {}), ...(format ? { format } : {}) };
}

function addMessage(messages: ChatMessage[], message: MessageParam, where: string): void {
  if (typeof message.content === "string") {
    messages.push({ role: message.role, content: message.content });
    return;
  }
  const texts: string[] = [];
  const calls: ToolCall[] = [];
  const results: ChatMessage[] = [];
  message.content.forEach((block, j) => {
    const at = `${where}.content[${j}]`;
    if (block.type === "text") texts.push(stringField(block, "text", at));
    else if (block.type === "tool_use" && message.role === "assistant") {
      const input = (block as { input?: unknown }).input ?? {};
      calls.push({ id: stringField(block, "id", at), name: stringField(block, "name", at), arguments: JSON.stringify(input) });
    } else if (block.type === "tool_result" && message.role === "user") results.push(toolResultOf(messages, block, at));
    else {
      throw invalidRequest(
        `Content block type '${block.type}' is not supported in ${message.role} messages by this server; ` +
          "'text' blocks are, 'tool_use' in assistant messages and 'tool_result' in user ones.",
        `${at}.type`,
        "unsupported_content_type",
      );
    }
  });
  messages.push(...results);
  if (texts.length > 0 || calls.length > 0 || results.length === 0) {
    messages.push({ role: message.role, content: texts.join("\n"), ...(calls.length > 0 ? { toolCalls: calls } : {}) });
  }
}

/** A tool's result answers the `tool_use` with the same id; an error result says so to the model. */
function toolResultOf(messages: readonly ChatMessage[], block: ContentBlockParam, at: string): ChatMessage {
  const id = stringField(block, "tool_use_id", at);
  const { content, is_error } = block as { content?: unknown; is_error?: unknown };
  let text = "";
  if (typeof content === "string") text = content;
  else if (Array.isArray(content)) {
    text = content
      .map((part: ContentBlockParam, k) => {
        if (part?.type !== "text") {
          throw invalidRequest("Only 'text' blocks are supported in a tool_result's content.", `${at}.content[${k}].type`, "unsupported_content_type");
        }
        return stringField(part, "text", `${at}.content[${k}]`);
      })
      .join("\n");
  } else if (content != null) throw invalidRequest("content: expected a string or text blocks.", `${at}.content`);
  const name = messages.flatMap((m) => m.toolCalls ?? []).find((c) => c.id === id)?.name;
  return { role: "tool", content: is_error === true ? `Error: ${text}` : text, toolCallId: id, ...(name === undefined ? {} : { name }) };
}

function stringField(block: object, field: string, at: string): string {
  const value = (block as Record<string, unknown>)[field];
  if (typeof value !== "string") throw invalidRequest(`Missing required parameter: '${at}.${field}'.`, `${at}.${field}`);
  return value;
}

/** Fields that would change the prompt or the output; their neutral values are accepted. */
function refuseUnsupportedConversation(body: MessageCountTokensParams): void {
  if (body.thinking && body.thinking.type !== "disabled") throw unsupportedParameter("thinking", "Only {\"type\": \"disabled\"} is accepted.");
  if (body.speed != null && body.speed !== "standard") throw unsupportedParameter("speed", "Only \"standard\" is accepted.");
  if (body.mcp_servers != null) throw unsupportedParameter("mcp_servers");
  if (body.context_management != null) throw unsupportedParameter("context_management");
}

/** Fields of a generation that gpt3dev has no counterpart for. */
function refuseUnsupported(body: MessageCreateParams): void {
  const unsupported = ["container", "diagnostics", "user_profile_id", "workspace_id"] as const;
  for (const field of unsupported) if (body[field] != null) throw unsupportedParameter(field);
}

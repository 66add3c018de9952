import type { Limits } from "../config.ts";
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

/**
 * Converts an Anthropic Messages request once into the chat request the chat route builds, refusing by name what
 * gpt3dev cannot honour. Errors are thrown in the shared form; the Messages routes' error mapping gives them
 * Anthropic's envelope.
 */
export function toChatRequest(body: MessageCreateParams, limits: Limits): ChatRequest {
  refuseUnsupported(body);
  checkAtMost(body.max_tokens, limits.maxTokens, "max_tokens", "max-tokens-cap");
  checkStop(body.stop_sequences, limits, "stop_sequences");
  const messages = toChatMessages(body);
  checkConversationLength(messages, "messages", limits);
  return {
    model: body.model,
    messages,
    maxTokens: body.max_tokens,
    n: 1,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    stop: (body.stop_sequences ?? []).filter((s) => s.length > 0),
  };
}

/** The conversation as the engine renders it: `system` first, then each message with its text blocks joined. */
export function toChatMessages(body: MessageCountTokensParams): ChatMessage[] {
  refuseUnsupportedConversation(body);
  const messages: ChatMessage[] = [];
  if (body.system !== undefined) {
    const system = typeof body.system === "string" ? body.system : body.system.map((block) => block.text).join("\n");
    messages.push({ role: "system", content: system });
  }
  body.messages.forEach((message, i) => messages.push({ role: message.role, content: textOf(message, `messages[${i}]`) }));
  const last = body.messages.length - 1;
  if (body.messages[last]?.role === "assistant") {
    throw invalidRequest(
      "A final assistant message (prefilling the reply) is not supported by gpt3dev yet; end with a user message.",
      `messages[${last}].role`,
      "unsupported_parameter",
    );
  }
  return messages;
}

function textOf(message: MessageParam, where: string): string {
  if (typeof message.content === "string") return message.content;
  return message.content.map((block, j) => blockText(block, `${where}.content[${j}]`)).join("\n");
}

function blockText(block: ContentBlockParam, where: string): string {
  if (block.type === "tool_use" || block.type === "tool_result") throw unsupportedParameter(where, `'${block.type}' blocks need tools.`);
  if (block.type !== "text") {
    throw invalidRequest(
      `Content block type '${block.type}' is not supported by this server; only 'text' blocks are.`,
      `${where}.type`,
      "unsupported_content_type",
    );
  }
  const text = (block as { text?: unknown }).text;
  if (typeof text !== "string") throw invalidRequest(`Missing required parameter: '${where}.text'.`, `${where}.text`);
  return text;
}

/** Fields that would change the prompt or the output; their neutral values are accepted. */
function refuseUnsupportedConversation(body: MessageCountTokensParams): void {
  if (body.tools && body.tools.length > 0) throw unsupportedParameter("tools");
  const choice = body.tool_choice?.type;
  if (choice !== undefined && choice !== "auto" && choice !== "none") throw unsupportedParameter("tool_choice");
  if (body.thinking && body.thinking.type !== "disabled") throw unsupportedParameter("thinking", "Only {\"type\": \"disabled\"} is accepted.");
  if (body.output_config != null && Object.keys(body.output_config as object).length > 0) {
    throw unsupportedParameter("output_config");
  }
  if (body.speed != null && body.speed !== "standard") throw unsupportedParameter("speed", "Only \"standard\" is accepted.");
  if (body.mcp_servers != null) throw unsupportedParameter("mcp_servers");
  if (body.context_management != null) throw unsupportedParameter("context_management");
}

/** Fields of a generation that gpt3dev has no counterpart for. */
function refuseUnsupported(body: MessageCreateParams): void {
  if (body.top_k !== undefined) throw unsupportedParameter("top_k");
  const unsupported = ["container", "diagnostics", "user_profile_id", "workspace_id"] as const;
  for (const field of unsupported) if (body[field] != null) throw unsupportedParameter(field);
}

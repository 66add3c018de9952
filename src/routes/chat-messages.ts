import type { Limits } from "../config.ts";
import type { ChatTemplateChoice } from "../engine/completions.ts";
import type { ChatMessage } from "../engine/tokenizer.ts";
import { invalidRequest, unsupportedParameter } from "../errors.ts";
import type { ChatCompletionCreateParams, ChatCompletionMessageParam } from "../openai/chat.ts";

/** Converts wire messages to engine messages once: text parts joined, developer treated as system. */
export function toChatMessages(messages: readonly ChatCompletionMessageParam[]): ChatMessage[] {
  return messages.map((message, i) => {
    const where = `messages[${i}]`;
    if (message.role === "function") throw unsupportedParameter(`${where}.role`, "Use 'tool' messages instead of 'function'.");
    if (message.function_call != null) throw unsupportedParameter(`${where}.function_call`);
    if (message.audio != null) throw unsupportedParameter(`${where}.audio`);
    const content = textOf(message.content, where);
    if (content === null && message.role !== "assistant") {
      throw invalidRequest(`Missing required parameter: '${where}.content'.`, `${where}.content`, "missing_required_parameter");
    }
    if (message.tool_calls && message.tool_calls.length > 0 && message.role !== "assistant") {
      throw invalidRequest(`Only assistant messages carry 'tool_calls'.`, `${where}.tool_calls`, "invalid_value");
    }
    if (message.role === "tool" && message.tool_call_id === undefined) {
      throw invalidRequest(`Missing required parameter: '${where}.tool_call_id'.`, `${where}.tool_call_id`, "missing_required_parameter");
    }
    const toolCalls = message.tool_calls?.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
    return {
      role: message.role === "developer" ? "system" : message.role,
      content: content ?? "",
      ...(message.name === undefined ? {} : { name: message.name }),
      ...(message.tool_call_id === undefined ? {} : { toolCallId: message.tool_call_id }),
      ...(toolCalls && toolCalls.length > 0 ? { toolCalls } : {}),
    };
  });
}

function textOf(content: ChatCompletionMessageParam["content"], where: string): string | null {
  if (content == null) return null;
  if (typeof content === "string") return content;
  return content
    .map((part, j) => {
      if (part.type !== "text") {
        throw invalidRequest(
          `Content part type '${part.type}' is not supported by this server; only 'text' parts are.`,
          `${where}.content[${j}]`,
          "unsupported_content_type",
        );
      }
      if (typeof part.text !== "string") {
        throw invalidRequest(`Missing required parameter: '${where}.content[${j}].text'.`, `${where}.content[${j}].text`);
      }
      return part.text;
    })
    .join("\n");
}

/** Refuses chat options gpt3dev cannot honour yet; their neutral values are accepted. */
export function refuseUnsupportedChatOptions(body: ChatCompletionCreateParams): void {
  if (body.top_logprobs && body.logprobs !== true) {
    throw invalidRequest("'top_logprobs' needs 'logprobs' set to true.", "top_logprobs");
  }
  if (body.functions && body.functions.length > 0) throw unsupportedParameter("functions");
  if (body.function_call != null && body.function_call !== "none" && body.function_call !== "auto") {
    throw unsupportedParameter("function_call");
  }
  if (body.modalities && body.modalities.some((m) => m !== "text")) {
    throw unsupportedParameter("modalities", "Only [\"text\"] is accepted.");
  }
  const unsupported = ["audio", "prediction", "reasoning_effort", "verbosity", "web_search_options", "moderation"] as const;
  for (const field of unsupported) if (body[field] != null) throw unsupportedParameter(field);
  if (body.store) throw unsupportedParameter("store", "Completions are never stored.");
}

/**
 * vLLM's `chat_template` and `chat_template_kwargs`, in engine terms; undefined when the request sets neither. A
 * template is refused by name when the server does not take templates from requests (`--request-chat-templates off`).
 */
export function toTemplateChoice(
  body: { chat_template?: string | null; chat_template_kwargs?: Record<string, unknown> | null },
  limits: Pick<Limits, "requestChatTemplates">,
): ChatTemplateChoice | undefined {
  const source = body.chat_template ?? undefined;
  if (source !== undefined && !limits.requestChatTemplates) {
    const message = "'chat_template' is turned off on this server (--request-chat-templates off): it renders each model's own template.";
    throw invalidRequest(message, "chat_template", "unsupported_parameter");
  }
  const variables = body.chat_template_kwargs ?? undefined;
  if (source === undefined && variables === undefined) return undefined;
  return { ...(source === undefined ? {} : { source }), ...(variables === undefined ? {} : { variables }) };
}

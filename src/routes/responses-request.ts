import type { Limits } from "../config.ts";
import type { ChatMessage } from "../engine/tokenizer.ts";
import { invalidRequest, unsupportedParameter } from "../errors.ts";
import type { ResponseCreateParams, ResponseInputItem } from "../openai/responses.ts";
import { checkConversationLength, type ChatRequest } from "./chat-service.ts";
import { checkAtMost } from "./limits.ts";
import { toOutputFormat, toToolSet } from "./responses-tools.ts";

/**
 * Converts a Responses request once into the chat request the chat route builds: `instructions` become the system
 * message, `input` the conversation (function calls join the assistant's turn, their outputs are tool messages),
 * `text.format` and function `tools` the same output constraints. Stateless: what needs a stored response is
 * refused by name.
 */
export function toChatRequest(body: ResponseCreateParams, limits: Limits): ChatRequest {
  refuseUnsupported(body);
  checkAtMost(body.max_output_tokens, limits.maxTokens, "max_output_tokens", "max-tokens-cap");
  const messages = toChatMessages(body);
  checkConversationLength(messages, "input", limits);
  const format = toOutputFormat(body.text?.format);
  const tools = toToolSet(body);
  return {
    model: body.model,
    messages,
    maxTokens: body.max_output_tokens ?? undefined,
    n: 1,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    stop: [],
    ...(format ? { format } : {}),
    ...(tools ? { tools } : {}),
  };
}

function toChatMessages(body: ResponseCreateParams): ChatMessage[] {
  const messages: ChatMessage[] = body.instructions == null ? [] : [{ role: "system", content: body.instructions }];
  if (typeof body.input === "string") return [...messages, { role: "user", content: body.input }];
  body.input.forEach((item, i) => {
    const where = `input[${i}]`;
    if (item.type === "function_call") addToolCall(messages, item, where);
    else if (item.type === "function_call_output") messages.push(toolResultOf(messages, item, where));
    else messages.push(toChatMessage(item, where));
  });
  return messages;
}

/** A call the assistant made joins its turn: the assistant message just before, or a new one without text. */
function addToolCall(messages: ChatMessage[], item: ResponseInputItem, where: string): void {
  const { call_id, name, arguments: args } = item as { call_id?: unknown; name?: unknown; arguments?: unknown };
  for (const [field, value] of [["call_id", call_id], ["name", name], ["arguments", args]] as const) {
    if (typeof value !== "string") {
      throw invalidRequest(`Missing required parameter: '${where}.${field}'.`, `${where}.${field}`, "missing_required_parameter");
    }
  }
  const call = { id: call_id as string, name: name as string, arguments: args as string };
  const last = messages.at(-1);
  if (last?.role === "assistant") last.toolCalls = [...(last.toolCalls ?? []), call];
  else messages.push({ role: "assistant", content: "", toolCalls: [call] });
}

/** A tool's output is a tool message answering the call with the same `call_id` (and named after its tool). */
function toolResultOf(messages: readonly ChatMessage[], item: ResponseInputItem, where: string): ChatMessage {
  const { call_id, output } = item as { call_id?: unknown; output?: unknown };
  if (typeof call_id !== "string") {
    throw invalidRequest(`Missing required parameter: '${where}.call_id'.`, `${where}.call_id`, "missing_required_parameter");
  }
  const name = messages.flatMap((m) => m.toolCalls ?? []).find((c) => c.id === call_id)?.name;
  const content = typeof output === "string" ? output : contentOf(output, where, "output");
  return { role: "tool", content, toolCallId: call_id, ...(name === undefined ? {} : { name }) };
}

const ROLES = { user: "user", assistant: "assistant", system: "system", developer: "system" } as const;

function toChatMessage(item: ResponseInputItem, where: string): ChatMessage {
  const type = item.type ?? "message";
  if (type !== "message") {
    throw invalidRequest(`Input items of type '${type}' are not supported by gpt3dev.`, `${where}.type`, "unsupported_parameter");
  }
  const role = (item as { role?: unknown }).role;
  if (typeof role !== "string" || !(role in ROLES)) {
    throw invalidRequest(
      `Invalid value for '${where}.role': expected "user", "assistant", "system" or "developer".`,
      `${where}.role`,
      "invalid_value",
    );
  }
  return { role: ROLES[role as keyof typeof ROLES], content: contentOf((item as { content?: unknown }).content, where) };
}

/** Text parts: `input_text` in the client's messages, `output_text` in assistant messages sent back. */
const TEXT_PARTS = new Set(["input_text", "output_text"]);

function contentOf(content: unknown, where: string, field = "content"): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) {
    throw invalidRequest(`Missing required parameter: '${where}.${field}'.`, `${where}.${field}`, "missing_required_parameter");
  }
  return content
    .map((part: { type?: unknown; text?: unknown }, j) => {
      const at = `${where}.${field}[${j}]`;
      if (typeof part !== "object" || part === null || !TEXT_PARTS.has(part.type as string)) {
        throw invalidRequest(
          `Content part type '${String(part?.type)}' is not supported by this server; only 'input_text' and ` +
            "'output_text' parts are.",
          `${at}.type`,
          "unsupported_content_type",
        );
      }
      if (typeof part.text !== "string") throw invalidRequest(`Missing required parameter: '${at}.text'.`, `${at}.text`);
      return part.text;
    })
    .join("\n");
}

/** Fields a stateless text generator cannot honour; their neutral values are accepted. */
function refuseUnsupported(body: ResponseCreateParams): void {
  if (body.stream_options != null && body.stream !== true) {
    throw invalidRequest("'stream_options' is only allowed when 'stream' is true.", "stream_options");
  }
  if (body.store) throw unsupportedParameter("store", "Responses are not stored: send 'store: false' and the whole conversation in 'input'.");
  if (body.previous_response_id != null) {
    throw unsupportedParameter("previous_response_id", "Responses are not stored: send the whole conversation in 'input'.");
  }
  if (body.background) throw unsupportedParameter("background", "Only false is accepted.");
  if (body.text?.verbosity != null && body.text.verbosity !== "medium") throw unsupportedParameter("text.verbosity");
  if (body.include && body.include.length > 0) throw unsupportedParameter("include");
  if (body.truncation != null && body.truncation !== "disabled") throw unsupportedParameter("truncation", "Only \"disabled\" is accepted.");
  if (body.top_logprobs) throw unsupportedParameter("top_logprobs");
  const reasoning = body.reasoning as { effort?: unknown; summary?: unknown; generate_summary?: unknown } | null | undefined;
  if (reasoning != null && (reasoning.effort != null || reasoning.summary != null || reasoning.generate_summary != null)) {
    throw unsupportedParameter("reasoning");
  }
  const unsupported = ["conversation", "prompt", "context_management", "moderation", "image", "access_programs"] as const;
  for (const field of unsupported) if (body[field] != null) throw unsupportedParameter(field);
}

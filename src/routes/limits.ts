import type { Limits } from "../config.ts";
import { OpenAIError } from "../errors.ts";

/** A request that asks for more than this server allows; names the field and the flag that sets the limit. */
function limitExceeded(param: string, message: string, flag: string): OpenAIError {
  return new OpenAIError(400, `${message} (this server's limit; --${flag}).`, "invalid_request_error", param, "limit_exceeded");
}

export function checkAtMost(value: number | null | undefined, max: number, param: string, flag: string): void {
  if (value != null && value > max) throw limitExceeded(param, `'${param}' must be at most ${max}, got ${value}`, flag);
}

/** `name`: the protocol's field (`stop`, Anthropic's `stop_sequences`). */
export function checkStop(stop: string | string[] | null | undefined, limits: Limits, name = "stop"): void {
  if (stop == null) return;
  const list = typeof stop === "string" ? [stop] : stop;
  if (list.length > limits.maxStopSequences) {
    throw limitExceeded(name, `At most ${limits.maxStopSequences} stop sequences are accepted, got ${list.length}`, "max-stop-sequences");
  }
  list.forEach((s, i) => {
    const param = typeof stop === "string" ? name : `${name}[${i}]`;
    if (s.length > limits.maxStopChars) {
      throw limitExceeded(param, `A stop sequence may be at most ${limits.maxStopChars} characters long, got ${s.length}`, "max-stop-chars");
    }
  });
}

export function checkPromptLength(length: number, param: string, limits: Limits): void {
  if (length > limits.maxPromptChars) {
    throw limitExceeded(param, `'${param}' may be at most ${limits.maxPromptChars} characters long, got ${length}`, "max-prompt-chars");
  }
}

interface GenerationFields {
  max_tokens?: number | null;
  n?: number | null;
  stop?: string | string[] | null;
}

function checkGeneration(body: GenerationFields, limits: Limits): void {
  checkAtMost(body.max_tokens, limits.maxTokens, "max_tokens", "max-tokens-cap");
  checkAtMost(body.n, limits.maxN, "n", "max-n");
  checkStop(body.stop, limits);
}

export function checkCompletionLimits(
  body: GenerationFields & { best_of?: number | null; prompt: string | string[] | number[] | number[][] },
  limits: Limits,
): void {
  checkGeneration(body, limits);
  checkAtMost(body.best_of, limits.maxN, "best_of", "max-n");
  const { prompt } = body;
  if (typeof prompt === "string") return checkPromptLength(prompt.length, "prompt", limits);
  if (typeof prompt[0] === "number") return checkPromptLength(prompt.length, "prompt", limits);
  if (prompt.length > limits.maxPrompts) {
    throw limitExceeded("prompt", `At most ${limits.maxPrompts} prompts are accepted in one request, got ${prompt.length}`, "max-prompts");
  }
  (prompt as Array<string | number[]>).forEach((p, i) => checkPromptLength(p.length, `prompt[${i}]`, limits));
}

/** Chat content counts as one prompt: the characters of every message's text, summed. */
export function checkChatLimits(
  body: GenerationFields & { max_completion_tokens?: number | null; messages: ReadonlyArray<{ content?: unknown }> },
  limits: Limits,
): void {
  checkGeneration(body, limits);
  checkAtMost(body.max_completion_tokens, limits.maxTokens, "max_completion_tokens", "max-tokens-cap");
  checkMessagesLength(body.messages, limits);
}

export function checkMessagesLength(messages: ReadonlyArray<{ content?: unknown }>, limits: Limits): void {
  let total = 0;
  for (const message of messages) {
    const content = message.content;
    if (typeof content === "string") total += content.length;
    else if (Array.isArray(content)) {
      for (const part of content as Array<{ text?: unknown }>) if (typeof part.text === "string") total += part.text.length;
    }
  }
  checkPromptLength(total, "messages", limits);
}

export function checkEmbeddingLimits(body: { input: string | string[] | number[] | number[][] }, limits: Limits): void {
  const { input } = body;
  if (typeof input === "string" || typeof input[0] === "number") return checkPromptLength(input.length, "input", limits);
  if (input.length > limits.maxEmbeddingInputs) {
    throw limitExceeded(
      "input",
      `At most ${limits.maxEmbeddingInputs} inputs are accepted in one request, got ${input.length}`,
      "max-embedding-inputs",
    );
  }
  (input as Array<string | number[]>).forEach((item, i) => checkPromptLength(item.length, `input[${i}]`, limits));
}

/** Moderation inputs count as prompts: at most `--max-prompts` of them, each within `--max-prompt-chars`. */
export function checkModerationLimits(texts: readonly string[], sentList: boolean, limits: Limits): void {
  if (texts.length > limits.maxPrompts) {
    throw limitExceeded("input", `At most ${limits.maxPrompts} inputs are accepted in one request, got ${texts.length}`, "max-prompts");
  }
  texts.forEach((text, i) => checkPromptLength(text.length, sentList ? `input[${i}]` : "input", limits));
}

/** What a generation that ran past `--request-timeout-seconds` answers, instead of output cut short silently. */
export function generationTimeout(seconds: number): OpenAIError {
  return new OpenAIError(
    400,
    `The generation ran longer than this server allows (${seconds} s; --request-timeout-seconds). ` +
      "Ask for fewer tokens ('max_tokens') or fewer choices.",
    "invalid_request_error",
    "max_tokens",
    "request_timeout",
  );
}

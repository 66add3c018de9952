import { renderChat, tokenizePrompt, type ChatTemplateChoice } from "./completions.ts";
import type { ToolSet } from "./constraints/structured-request.ts";
import type { TextModel } from "./text-model.ts";
import type { ChatMessage } from "./tokenizer.ts";

/**
 * Tokenize text (optionally without special tokens) or a conversation as the chat template renders it, with the
 * tools it offers the model.
 */
export type TokenizeRequest = { model: string } & (
  | { prompt: string; addSpecialTokens: boolean; messages?: undefined }
  | { messages: readonly ChatMessage[]; tools?: ToolSet; template?: ChatTemplateChoice; prompt?: undefined }
);

export interface TokenizeResult {
  modelId: string;
  tokens: number[];
  contextLength: number;
}

export function tokenizeWith(model: TextModel, request: TokenizeRequest): TokenizeResult {
  const tokens = request.messages
    ? renderChat(model, request.messages, request.tools, request.template)
    : model.tokenizer.encode(request.prompt, request.addSpecialTokens);
  return { modelId: model.spec.id, tokens, contextLength: model.contextLength };
}

/** Decodes ids back to text, special tokens skipped, after checking each id is in the vocabulary. */
export function detokenizeWith(model: TextModel, tokens: readonly number[]): string {
  // The tokenizer's decode throws on an empty list; nothing decodes to nothing.
  if (tokens.length === 0) return "";
  return model.tokenizer.decode(tokenizePrompt(model, tokens, "tokens"));
}

import type { TokenLogprob } from "../engine/token-logprobs.ts";
import type { ChatCompletionTokenLogprob } from "../openai/chat.ts";
import type { CompletionLogprobs } from "../openai/completions.ts";

/**
 * Completions' legacy logprobs for some tokens of a choice. `text_offset` counts characters (code points, as Python
 * clients index strings) from the start of the choice's text, continuing from `offset` (what came before: the
 * tokens of earlier chunks), as vLLM counts them. `top_logprobs` holds the chosen token too, as OpenAI documents
 * ("up to logprobs + 1 elements").
 */
export function toCompletionLogprobs(tokens: readonly TokenLogprob[], offset: number): { logprobs: CompletionLogprobs; offset: number } {
  const logprobs: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  for (const token of tokens) {
    logprobs.tokens.push(token.text);
    logprobs.token_logprobs.push(token.logprob);
    logprobs.text_offset.push(offset);
    offset += [...token.text].length;
    if (token.logprob === null || token.top === null) {
      logprobs.top_logprobs.push(null);
      continue;
    }
    const top: Record<string, number> = {};
    for (const alt of token.top) top[alt.text] ??= alt.logprob;
    top[token.text] ??= token.logprob;
    logprobs.top_logprobs.push(top);
  }
  return { logprobs, offset };
}

/** Chat's logprobs entries: every token with its bytes and exactly the `top_logprobs` asked for, most likely first. */
export function toChatLogprobs(tokens: readonly TokenLogprob[]): ChatCompletionTokenLogprob[] {
  return tokens.map((token) => ({
    token: token.text,
    logprob: token.logprob ?? 0,
    bytes: token.bytes,
    top_logprobs: (token.top ?? []).map((alt) => ({ token: alt.text, logprob: alt.logprob, bytes: alt.bytes })),
  }));
}

/** The mean logprob of a choice's generated tokens, which `best_of` ranks candidates by; -Infinity for none. */
export function meanLogprob(tokens: readonly TokenLogprob[]): number {
  if (tokens.length === 0) return -Infinity;
  return tokens.reduce((sum, t) => sum + (t.logprob ?? 0), 0) / tokens.length;
}

import type { LogprobReporter, TokenLogprob } from "./token-logprobs.ts";

/**
 * What choices that echo their prompt show first: its text and, when one of them asked for logprobs, every prompt
 * token's logprob with the most alternatives any of them asked for (`top`), filled in chunk by chunk as the prompt is
 * prefilled.
 */
export interface PromptEcho {
  text: string;
  top?: number;
  logprobs: TokenLogprob[];
}

/**
 * Appends the logprobs of the prompt tokens a prefill chunk predicts: the chunk starts at position `start` of
 * `promptIds`, its logits hold every position (`ids × vocab`), and position j's logits predict token j + 1. The first
 * prompt token has none: nothing predicts it.
 */
export function scoreChunk(
  echo: PromptEcho,
  promptIds: readonly number[],
  start: number,
  chunkLength: number,
  logits: Float32Array,
  vocab: number,
  reporter: LogprobReporter,
): void {
  if (start === 0) echo.logprobs.push(reporter.unscored(promptIds[0]!));
  for (let j = 0; j < chunkLength; j++) {
    const next = start + j + 1;
    if (next >= promptIds.length) break;
    echo.logprobs.push(reporter.report(logits.subarray(j * vocab, (j + 1) * vocab), promptIds[next]!, echo.top ?? 0));
  }
}

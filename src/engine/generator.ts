import type { ForwardResult } from "./decoder.ts";
import { IncrementalDetokenizer } from "./detokenizer.ts";
import { Sampler, type SamplingParams } from "./sampler.ts";
import { StopMatcher } from "./stop-matcher.ts";
import type { TextModel } from "./text-model.ts";

export type FinishReason = "stop" | "length";

export interface SequenceParams {
  maxTokens: number;
  sampling: SamplingParams;
  stop: readonly string[];
}

export type SequenceEvent =
  | { kind: "text"; text: string }
  | { kind: "finish"; reason: FinishReason; completionTokens: number };

/** Runs the prompt once; several sequences with the same prompt can start from the same result. */
export function prefill(model: TextModel, promptIds: readonly number[]): Promise<ForwardResult> {
  return model.decoder.forward(promptIds, model.decoder.emptyCache());
}

/**
 * Generates one sequence from a prefilled prompt: samples, detokenizes incrementally (never splitting a UTF-8
 * character), and ends on an EOS id, a stop string (never emitted) or `maxTokens`. Stops early, without a finish
 * event, when `signal` aborts.
 */
export async function* generateSequence(
  model: TextModel,
  promptIds: readonly number[],
  start: ForwardResult,
  params: SequenceParams,
  signal?: AbortSignal,
): AsyncGenerator<SequenceEvent> {
  const sampler = new Sampler(params.sampling);
  const detokenizer = new IncrementalDetokenizer(model.tokenizer, promptIds);
  const stops = new StopMatcher(params.stop);
  let step = start;
  let generated = 0;
  let reason: FinishReason = "length";
  while (generated < params.maxTokens) {
    if (signal?.aborted) return;
    const token = sampler.sample(step.logits);
    generated++;
    if (model.eosIds.has(token)) {
      reason = "stop";
      break;
    }
    const piece = stops.push(detokenizer.push(token));
    if (piece.text) yield { kind: "text", text: piece.text };
    if (piece.stopped) {
      yield { kind: "finish", reason: "stop", completionTokens: generated };
      return;
    }
    if (generated < params.maxTokens) step = await model.decoder.forward([token], step.cache);
  }
  const tail = stops.push(detokenizer.flush());
  const text = tail.stopped ? tail.text : tail.text + stops.flush();
  if (text) yield { kind: "text", text };
  yield { kind: "finish", reason: tail.stopped ? "stop" : reason, completionTokens: generated };
}

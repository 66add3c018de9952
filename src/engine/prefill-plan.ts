import type { BatchModel, KvShape, RowSource, StepOutput } from "./batch-model.ts";
import { scoresPrompt, type PromptGroup } from "./scheduler-jobs.ts";

/** One prompt's next chunk in a prefill run. */
export interface PrefillChunk<K> {
  group: PromptGroup<K>;
  ids: readonly number[];
}

/**
 * Picks the chunks of the next prefill run, oldest prompt first: each prompt's next `chunk` tokens while the phase
 * holds at most `chunk` real tokens (`used` so far; a first chunk always fits), and only chunks that can share one left-padded run
 * (`supportsPadding`; otherwise a single chunk). `full` says the budget stopped it, so the phase should end.
 */
export function nextPrefillRun<K>(
  groups: readonly PromptGroup<K>[],
  chunk: number,
  used: number,
  supportsPadding: boolean,
  batchesResumed = true,
): { run: PrefillChunk<K>[]; used: number; full: boolean } {
  const run: PrefillChunk<K>[] = [];
  for (const group of groups) {
    // Chunk boundaries depend on the prompt alone, so a prompt's numbers never depend on other traffic.
    const ids = group.ids.slice(group.prefilled, group.prefilled + chunk);
    if (used > 0 && used + ids.length > chunk) return { run, used, full: true };
    // A prompt being scored runs alone: its run returns every position's logits.
    if (run.length > 0 && (scoresPrompt(group) || scoresPrompt(run[0]!.group) || !sharesRun([...run, { group, ids }], batchesResumed))) break;
    run.push({ group, ids });
    used += ids.length;
    if (!supportsPadding || scoresPrompt(group)) break;
  }
  return { run, used, full: false };
}

/**
 * Whether chunks can share a padded run: a prompt with cached positions must have as many new tokens as the longest
 * chunk, or padding would sit between its cached and its new positions; a model that does not batch resumed prompts
 * runs such a chunk alone.
 */
function sharesRun<K>(run: readonly PrefillChunk<K>[], batchesResumed: boolean): boolean {
  const longest = Math.max(...run.map((b) => b.ids.length));
  return run.every((b) => b.group.prefilled === 0 || (batchesResumed && b.ids.length === longest));
}

/**
 * Runs one prefill run on the model: a prompt being scored alone with every position's logits, chunks that share a
 * left-padded run, or (a model without padding) one chunk.
 */
export function runPrefill<K extends KvShape>(model: BatchModel<K>, run: readonly PrefillChunk<K>[], scoring: boolean): Promise<StepOutput<K>> {
  if (scoring || !model.supportsPadding) {
    const { group, ids } = run[0]!;
    return model.prefill(ids, group.kv ?? model.emptyKv(), scoring ? "all" : "last", group.ids.length);
  }
  return model.prefillBatch(
    run.map(({ group, ids }) => {
      const past: RowSource<K> | undefined = group.kv && { kv: group.kv, row: group.row, length: group.prefilled };
      return { ids, past, room: group.ids.length };
    }),
  );
}

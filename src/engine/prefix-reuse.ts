import type { KvShape, RowSource } from "./batch-model.ts";
import { PrefixCache, type KvSegment, type PrefixCacheStats } from "./prefix-cache.ts";

/** How a model's cache is copied out of a batch and back in (src/engine/kv-segment.ts for the ONNX decoder). */
export interface PrefixKv<K, S extends KvSegment> {
  /** Positions [start, end) of a row's real positions, as a segment of their own. */
  copyOut(source: RowSource<K>, start: number, end: number): S;
  /** A one-row cache of the first `length` positions of consecutive segments. */
  copyIn(segments: readonly S[], length: number): K;
}

/** The part of a prompt the scheduler tracks while prefilling it. */
export interface PrefillState<K> {
  readonly ids: readonly number[];
  kv: K | undefined;
  row: number;
  prefilled: number;
}

/** What the scheduler calls: src/engine/scheduler.ts knows nothing else of the prefix cache. */
export interface PromptPrefixes<K> {
  resume(prompt: PrefillState<K>): number;
  remember(ids: readonly number[], kv: K, row: number): void;
  store(): void;
  discard(): void;
  stats(): PrefixCacheStats;
}

/**
 * The scheduler's side of the prefix cache: a prompt starts its prefill after the longest prefix cached for it, and a
 * prompt whose prefill has finished is stored for the requests after it. Storing copies the prompt's cache, so it
 * waits (`store`) until the first tokens of the run that produced it have gone out.
 */
export class PrefixReuse<K extends KvShape, S extends KvSegment> implements PromptPrefixes<K> {
  private pending: { ids: readonly number[]; source: RowSource<K> }[] = [];

  constructor(
    private readonly cache: PrefixCache<S>,
    private readonly kv: PrefixKv<K, S>,
  ) {}

  /** Before a prompt's first prefill run: starts it after its longest cached prefix. Returns the positions reused. */
  resume(prompt: PrefillState<K>): number {
    if (prompt.prefilled > 0 || prompt.kv) return 0;
    // A prompt remembered a moment ago may be this one's prefix (a request sent right after the one before it ended).
    this.store();
    const match = this.cache.lookup(prompt.ids);
    if (!match) return 0;
    prompt.kv = this.kv.copyIn(match.segments, match.length);
    prompt.row = 0;
    prompt.prefilled = match.length;
    return match.length;
  }

  /** The prompt's cache is complete in row `row` of `kv` (which must not change until the next `store`). */
  remember(ids: readonly number[], kv: K, row: number): void {
    if (this.cache.enabled) this.pending.push({ ids, source: { kv, row, length: ids.length } });
  }

  /** Copies the blocks of the remembered prompts that the cache does not hold yet. */
  store(): void {
    const pending = this.pending;
    this.pending = [];
    for (const { ids, source } of pending) this.cache.insert(ids, (start, end) => this.kv.copyOut(source, start, end));
  }

  /** Forgets what is pending (its caches are being dropped). */
  discard(): void {
    this.pending = [];
  }

  stats(): PrefixCacheStats {
    return this.cache.stats();
  }
}

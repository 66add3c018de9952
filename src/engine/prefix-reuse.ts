import type { KvShape, RowSource } from "./batch-model.ts";
import { PrefixCache, type KvSegment, type PrefixCacheStats } from "./prefix-cache.ts";

/** How a model's cache is kept and restored (src/engine/kv-segment.ts for the ONNX decoder). */
export interface PrefixKv<K, S extends KvSegment> {
  /** Positions [start, end) of a row's real positions, as a segment that refers to `source.kv` (no copy). */
  view(source: RowSource<K>, start: number, end: number): S;
  /** A one-row cache of the first `length` positions of consecutive segments (the block itself when it is exactly that). */
  restore(segments: readonly S[], length: number): K;
  /** A one-row block holding exactly the row's real positions (a copy: the model's `pack` of that row alone). */
  compact(source: RowSource<K>): K;
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
  /** Evicts cached prefixes until they hold at most `bytes` (running sequences need the memory). */
  shrinkTo(bytes: number): void;
  /** From now on the cache keeps within `room()` bytes as well as its own budget (`--kv-cache-memory`). */
  limit(room: () => number): void;
  stats(): PrefixCacheStats;
}

/**
 * The scheduler's side of the prefix cache: a prompt starts its prefill after the longest prefix cached for it, and a
 * prompt whose prefill has finished is stored for the requests after it. A prompt prefilled alone is stored as views
 * of its prefill's own output, at once and without a copy, and a next turn that resumes after all of it runs on that
 * block as it is. A prompt prefilled next to others shares a padded block with them: its row is copied into a block of
 * its own (so the cache does not hold the others' padding), which waits (`store`) until the first tokens of the run
 * that produced it have gone out.
 */
export class PrefixReuse<K extends KvShape, S extends KvSegment> implements PromptPrefixes<K> {
  private pending: { ids: readonly number[]; source: RowSource<K> }[] = [];
  private room: () => number = () => Number.POSITIVE_INFINITY;

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
    prompt.kv = this.kv.restore(match.segments, match.length);
    prompt.row = 0;
    prompt.prefilled = match.length;
    return match.length;
  }

  /** The prompt's cache is complete in row `row` of `kv` (which must not change until the next `store`). */
  remember(ids: readonly number[], kv: K, row: number): void {
    if (!this.cache.enabled) return;
    const source = { kv, row, length: ids.length };
    if (kv.rows === 1 && kv.width === ids.length) this.insert(ids, source);
    else this.pending.push({ ids, source });
  }

  /** Copies the rows of the prompts remembered from shared blocks into blocks of their own, and caches them. */
  store(): void {
    const pending = this.pending;
    this.pending = [];
    for (const { ids, source } of pending) this.insert(ids, { kv: this.kv.compact(source), row: 0, length: ids.length });
  }

  /** Forgets what is pending (its caches are being dropped). */
  discard(): void {
    this.pending = [];
  }

  shrinkTo(bytes: number): void {
    this.cache.shrinkTo(bytes);
  }

  limit(room: () => number): void {
    this.room = room;
  }

  stats(): PrefixCacheStats {
    return this.cache.stats();
  }

  private insert(ids: readonly number[], source: RowSource<K>): void {
    this.cache.insert(ids, (start, end) => this.kv.view(source, start, end), this.room());
  }
}

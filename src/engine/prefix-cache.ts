/**
 * The memory cached segments live in (a prefill run's whole output cache, or a compacted copy of one row): the cache
 * counts its bytes once, while at least one cached block refers to it.
 */
export interface KvStore {
  readonly bytes: number;
}

/** What the prefix cache keeps for one block of positions: keys and values, opaque to it but the store they live in. */
export interface KvSegment {
  readonly store: KvStore;
}

/** Tokens per block of the server's prefix caches (vLLM's default block size). */
export const PREFIX_BLOCK_TOKENS = 16;

export interface PrefixCacheOptions {
  /** Memory the cached segments may take together; the least recently used blocks go beyond it. 0 disables the cache. */
  budgetBytes: number;
  /** Tokens per block: prefixes are cached and matched in whole blocks. */
  blockTokens: number;
}

/** A usable cached prefix: its first `length` positions are in `segments`, block after block (the last may hold more). */
export interface PrefixMatch<S> {
  length: number;
  segments: readonly S[];
}

export interface PrefixCacheStats {
  blocks: number;
  bytes: number;
  budgetBytes: number;
  /** Lookups that reused at least one position, and the positions they reused. */
  hits: number;
  hitTokens: number;
  lookups: number;
  evictedBlocks: number;
}

interface Node<S> {
  parent: Node<S> | undefined;
  key: string;
  tokens: readonly number[];
  segment: S | undefined;
  children: Map<string, Node<S>>;
  lastUsed: number;
}

/**
 * Keys and values of recent prompts, kept across requests (llama.cpp's `cache_prompt`, vLLM's automatic prefix
 * caching): a trie of fixed-size token blocks, each node holding its block's cache. The cache of a position depends on
 * the tokens up to it only, so the path a prompt shares with an earlier one can be reused as it is and only the rest
 * needs a prefill. Blocks shared by several prompts (a system prompt, a chat's history) are stored once. Memory is
 * bounded by a byte budget, counted per store (the memory blocks refer to); the least recently used leaf blocks are
 * evicted first, so a prefix outlives its extensions.
 */
export class PrefixCache<S extends KvSegment> {
  private readonly root: Node<S> = { parent: undefined, key: "", tokens: [], segment: undefined, children: new Map(), lastUsed: 0 };
  private readonly leaves = new Set<Node<S>>();
  /** Stores the cached blocks refer to, with how many do. */
  private readonly stores = new Map<KvStore, number>();
  private clock = 0;
  private bytes = 0;
  private blocks = 0;
  private readonly counters = { hits: 0, hitTokens: 0, lookups: 0, evictedBlocks: 0 };

  constructor(readonly options: PrefixCacheOptions) {
    if (!Number.isInteger(options.blockTokens) || options.blockTokens < 1) throw new Error("blockTokens must be a positive integer");
  }

  get enabled(): boolean {
    return this.options.budgetBytes > 0;
  }

  /**
   * The longest cached prefix of `ids` that leaves at least one token to run (the model must see the last token to
   * give its logits), or undefined when nothing is cached. The blocks it uses become the most recently used.
   */
  lookup(ids: readonly number[]): PrefixMatch<S> | undefined {
    // Linear in the prompt: one map look-up per block, then one scan of the last node's children.
    if (!this.enabled) return undefined;
    this.counters.lookups++;
    const { path, partial } = this.walk(ids);
    const length = Math.min((path.length - (partial > 0 ? 1 : 0)) * this.options.blockTokens + partial, ids.length - 1);
    if (length <= 0) return undefined;
    const used = path.slice(0, Math.ceil(length / this.options.blockTokens));
    this.touch(used[used.length - 1]!);
    this.counters.hits++;
    this.counters.hitTokens += length;
    return { length, segments: used.map((node) => node.segment!) };
  }

  /**
   * Caches `ids` block by block, the last one partial when the prompt ends inside a block (a chat's next turn then
   * resumes after all of it; a longer block replaces it later); `view(start, end)` gives positions [start, end) of the caller's cache for `ids`
   * (a view: one store holds all of them, so nothing is copied). Blocks already cached are pointed at the new store,
   * so that a chat's growing history lives in its newest prompt's cache alone and older stores are freed. Then evicts
   * least recently used blocks (never this prompt's path while others remain) to stay within the budget, and within
   * `room` (what another user of the memory leaves). A store larger than either is not cached. Returns the blocks added.
   */
  insert(ids: readonly number[], view: (start: number, end: number) => S, room = Number.POSITIVE_INFINITY): number {
    if (!this.enabled) return 0;
    const limit = Math.min(this.options.budgetBytes, room);
    const size = this.options.blockTokens;
    // Every position already cached, in a longer block than this prompt's last: nothing to add, nothing to move.
    const { path, partial } = this.walk(ids);
    if (partial > 0 && partial === ids.length % size && path.length === Math.ceil(ids.length / size)) return 0;
    let node = this.root;
    let added = 0;
    for (let start = 0; start < ids.length; start += size) {
      const end = Math.min(start + size, ids.length);
      const key = blockKey(ids, start, end);
      let child = node.children.get(key);
      const segment = view(start, end);
      if (segment.store.bytes > limit) break;
      if (child) {
        const old = child.segment!;
        if (old.store !== segment.store) {
          this.hold(segment.store);
          child.segment = segment;
          this.release(old.store);
        }
      } else {
        child = { parent: node, key, tokens: ids.slice(start, end), segment, children: new Map(), lastUsed: 0 };
        node.children.set(key, child);
        this.leaves.delete(node);
        this.leaves.add(child);
        this.hold(segment.store);
        this.blocks++;
        added++;
        // Shorter partial blocks this one starts with (an earlier turn's last block) hold nothing it does not.
        for (const sibling of node.children.values()) {
          if (sibling !== child && sibling.children.size === 0 && sibling.tokens.length < child.tokens.length && startsWith(child.tokens, sibling.tokens, 0, sibling.tokens.length)) {
            this.evict(sibling, false);
          }
        }
      }
      node = child;
    }
    if (node !== this.root) {
      this.touch(node);
      this.fit(node, limit);
    }
    return added;
  }

  /** Evicts least recently used blocks until the cached stores take at most `bytes` (another user needs the memory). */
  shrinkTo(bytes: number): void {
    while (this.bytes > Math.max(0, bytes)) {
      const victim = this.oldestLeaf(undefined);
      if (!victim) return;
      this.evict(victim);
    }
  }

  /** Drops every block (the model's session is going away). */
  clear(): void {
    this.root.children.clear();
    this.leaves.clear();
    this.stores.clear();
    this.bytes = 0;
    this.blocks = 0;
  }

  stats(): PrefixCacheStats {
    return { blocks: this.blocks, bytes: this.bytes, budgetBytes: this.options.budgetBytes, ...this.counters };
  }

  /**
   * The cached nodes along `ids`: whole blocks, then the child of the last one that shares the most leading tokens
   * with the rest of `ids` (`partial` of them; 0 when none does), since a block's first positions are usable alone.
   */
  private walk(ids: readonly number[]): { path: Node<S>[]; partial: number } {
    const size = this.options.blockTokens;
    const path: Node<S>[] = [];
    let node = this.root;
    let start = 0;
    for (; start + size <= ids.length; start += size) {
      const next = node.children.get(blockKey(ids, start, start + size));
      if (!next) break;
      path.push(next);
      node = next;
    }
    let best: Node<S> | undefined;
    let partial = 0;
    for (const child of node.children.values()) {
      let shared = 0;
      while (shared < size && start + shared < ids.length && child.tokens[shared] === ids[start + shared]) shared++;
      if (shared > partial) [best, partial] = [child, shared];
    }
    if (best) path.push(best);
    return { path, partial };
  }

  /** Marks a node and its ancestors as used now, so that a parent is never older than its children. */
  private touch(node: Node<S>): void {
    const now = ++this.clock;
    for (let n: Node<S> | undefined = node; n && n !== this.root; n = n.parent) n.lastUsed = now;
  }

  /**
   * Evicts least recently used leaves until the budget holds: others first, then, only if that is not enough, the
   * end of the path that was just stored (`keep`), block by block.
   */
  private fit(keep: Node<S>, limit: number): void {
    while (this.bytes > limit) {
      const victim = this.oldestLeaf(keep) ?? (this.leaves.has(keep) ? keep : undefined);
      if (!victim) return;
      if (victim === keep) keep = keep.parent!;
      this.evict(victim);
    }
  }

  private oldestLeaf(except: Node<S> | undefined): Node<S> | undefined {
    let victim: Node<S> | undefined;
    for (const leaf of this.leaves) {
      if (leaf !== except && (!victim || leaf.lastUsed < victim.lastUsed)) victim = leaf;
    }
    return victim;
  }

  private hold(store: KvStore): void {
    const refs = this.stores.get(store) ?? 0;
    if (refs === 0) this.bytes += store.bytes;
    this.stores.set(store, refs + 1);
  }

  private release(store: KvStore): void {
    const refs = this.stores.get(store) ?? 0;
    if (refs <= 1) {
      this.stores.delete(store);
      this.bytes -= store.bytes;
    } else this.stores.set(store, refs - 1);
  }

  private evict(leaf: Node<S>, counted = true): void {
    const parent = leaf.parent!;
    parent.children.delete(leaf.key);
    this.leaves.delete(leaf);
    if (parent !== this.root && parent.children.size === 0) this.leaves.add(parent);
    this.release(leaf.segment!.store);
    this.blocks--;
    if (counted) this.counters.evictedBlocks++;
  }
}

function blockKey(ids: readonly number[], start: number, end: number): string {
  return ids.slice(start, end).join(",");
}

/** Whether `tokens` starts with ids[start, end) (and is longer). */
function startsWith(tokens: readonly number[], ids: readonly number[], start: number, end: number): boolean {
  if (tokens.length <= end - start) return false;
  for (let i = start; i < end; i++) if (tokens[i - start] !== ids[i]) return false;
  return true;
}

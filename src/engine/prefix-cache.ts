/** What the prefix cache keeps for one block of positions: a copy of their keys and values, opaque to it but its size. */
export interface KvSegment {
  readonly bytes: number;
}

/** Tokens per block of the server's prefix caches (vLLM's default block size). */
export const PREFIX_BLOCK_TOKENS = 16;

export interface PrefixCacheOptions {
  /** Memory the cached segments may take together; the least recently used blocks go beyond it. 0 disables the cache. */
  budgetBytes: number;
  /** Tokens per block: prefixes are cached and matched in whole blocks. */
  blockTokens: number;
}

/** A usable cached prefix: its first `length` positions are in `segments`, block after block (the last may be longer). */
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
 * bounded by a byte budget; the least recently used leaf blocks are evicted first, so a prefix outlives its extensions.
 */
export class PrefixCache<S extends KvSegment> {
  private readonly root: Node<S> = { parent: undefined, key: "", tokens: [], segment: undefined, children: new Map(), lastUsed: 0 };
  private readonly leaves = new Set<Node<S>>();
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
   * Stores the whole blocks of `ids` that are not cached yet; `copy(start, end)` must return a copy of positions
   * [start, end) of the caller's cache for `ids`. Evicts least recently used blocks to stay within the budget; stops
   * (keeping the blocks stored so far) when the budget cannot hold the next block. Returns the blocks added.
   */
  insert(ids: readonly number[], copy: (start: number, end: number) => S): number {
    if (!this.enabled) return 0;
    const size = this.options.blockTokens;
    let node = this.root;
    let added = 0;
    for (let start = 0; start + size <= ids.length; start += size) {
      const key = blockKey(ids, start, size);
      const existing = node.children.get(key);
      if (existing) {
        node = existing;
        this.touch(node);
        continue;
      }
      const segment = copy(start, start + size);
      // The path to `node` is the most recently used: eviction never takes it.
      this.touch(node);
      if (!this.makeRoom(segment.bytes, node)) break;
      const child: Node<S> = { parent: node, key, tokens: ids.slice(start, start + size), segment, children: new Map(), lastUsed: ++this.clock };
      node.children.set(key, child);
      this.leaves.delete(node);
      this.leaves.add(child);
      this.bytes += segment.bytes;
      this.blocks++;
      added++;
      node = child;
    }
    return added;
  }

  /** Drops every block (the model's session is going away). */
  clear(): void {
    this.root.children.clear();
    this.leaves.clear();
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
      const next = node.children.get(blockKey(ids, start, size));
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

  /** Evicts least recently used leaves (never `keep` or its ancestors) until `bytes` more fit the budget. */
  private makeRoom(bytes: number, keep: Node<S>): boolean {
    if (bytes > this.options.budgetBytes) return false;
    while (this.bytes + bytes > this.options.budgetBytes) {
      let victim: Node<S> | undefined;
      for (const leaf of this.leaves) {
        if (leaf !== keep && (!victim || leaf.lastUsed < victim.lastUsed)) victim = leaf;
      }
      if (!victim) return false;
      this.evict(victim);
    }
    return true;
  }

  private evict(leaf: Node<S>): void {
    const parent = leaf.parent!;
    parent.children.delete(leaf.key);
    this.leaves.delete(leaf);
    if (parent !== this.root && parent.children.size === 0) this.leaves.add(parent);
    this.bytes -= leaf.segment!.bytes;
    this.blocks--;
    this.counters.evictedBlocks++;
  }
}

function blockKey(ids: readonly number[], start: number, size: number): string {
  return ids.slice(start, start + size).join(",");
}

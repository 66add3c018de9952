/**
 * A BPE tokenizer's merge ranks kept as token-id pairs instead of strings.
 *
 * @huggingface/tokenizers keys each merge by `JSON.stringify([left, right])` in a Map: one string and one map entry per
 * merge, about 190 bytes each (9.5 MiB for GPT-2's 50,000 merges, 50 MiB for the 280,000 of a 128k-token vocabulary).
 * Both halves of a merge are tokens of the vocabulary, so a pair of ids says the same thing: here they sit in an
 * open-addressing table of three Int32Arrays (12 bytes a slot, at most half full), and the model's merge step looks
 * ranks up there. Pairs with a half outside the vocabulary (none in the tokenizers we know) keep their string key.
 * Encoding is unchanged (test/runtime/tokenizer-tables.test.ts compares ids with the tokenizer as built).
 */

const EMPTY = -1;

/** Ranks of (left id, right id) pairs. */
export class MergeRankTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly ranks: Int32Array;
  private readonly mask: number;

  constructor(capacityFor: number) {
    let slots = 16;
    while (slots < capacityFor * 2) slots *= 2;
    this.left = new Int32Array(slots).fill(EMPTY);
    this.right = new Int32Array(slots);
    this.ranks = new Int32Array(slots);
    this.mask = slots - 1;
  }

  get bytes(): number {
    return this.left.byteLength + this.right.byteLength + this.ranks.byteLength;
  }

  /** Sets a pair's rank (a later rank for the same pair replaces the earlier, as Map.set does). */
  set(a: number, b: number, rank: number): void {
    let slot = hash(a, b) & this.mask;
    while (this.left[slot] !== EMPTY && (this.left[slot] !== a || this.right[slot] !== b)) slot = (slot + 1) & this.mask;
    this.left[slot] = a;
    this.right[slot] = b;
    this.ranks[slot] = rank;
  }

  get(a: number, b: number): number | undefined {
    let slot = hash(a, b) & this.mask;
    for (;;) {
      const at = this.left[slot]!;
      if (at === EMPTY) return undefined;
      if (at === a && this.right[slot] === b) return this.ranks[slot];
      slot = (slot + 1) & this.mask;
    }
  }
}

function isPair(value: unknown): value is [string, string] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string";
}

function hash(a: number, b: number): number {
  const h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b);
  return (h ^ (h >>> 15)) >>> 0;
}

/** The parts of @huggingface/tokenizers' BPE model this reads and replaces. */
interface BpeModel {
  bpe_ranks?: unknown;
  merges?: unknown;
  tokens_to_ids?: unknown;
  add_node?: unknown;
}

interface MergeNode {
  token: string;
  bias: number;
  score?: number;
  next: MergeNode | null;
}

/**
 * Replaces a BPE model's string-keyed merge ranks with a MergeRankTable and its merge step with one that reads it.
 * Returns false, leaving the model as it was, when the model is not BPE, its vocabulary gives two tokens one id, or the
 * library's merge step is not the one this was written against.
 */
export function compactMergeRanks(model: unknown): boolean {
  const bpe = model as BpeModel;
  const ranks = bpe.bpe_ranks;
  const ids = bpe.tokens_to_ids;
  if (!(ranks instanceof Map) || !(ids instanceof Map) || typeof bpe.add_node !== "function") return false;
  // The step this replaces: look the pair's rank up, then score and queue the node (property names survive minifying).
  const step = String(bpe.add_node);
  if (!/bpe_ranks/.test(step) || !/\.score\s*=/.test(step) || !/\.push\(/.test(step)) return false;
  if (new Set(ids.values()).size !== ids.size) return false;

  const table = new MergeRankTable(ranks.size);
  let outside: Map<string, number> | undefined;
  const add = (left: string, right: string, rank: number, key?: string) => {
    const a = ids.get(left) as number | undefined;
    const b = ids.get(right) as number | undefined;
    if (a !== undefined && b !== undefined) table.set(a, b, rank);
    else (outside ??= new Map()).set(key ?? JSON.stringify([left, right]), rank);
  };
  // The merges list the map was built from, while the model still holds it, gives the pairs without parsing keys
  // (the map holds merge i at rank i, a repeated pair at its last rank: set in order, the table ends the same).
  const merges = bpe.merges;
  if (Array.isArray(merges) && merges.length === ranks.size && merges.every(isPair)) merges.forEach(([left, right], rank) => add(left, right, rank));
  else for (const [key, rank] of ranks as Map<string, number>) add(...(JSON.parse(key) as [string, string]), rank, key);
  const vocabulary = ids as Map<string, number>;
  const rankOf = (left: string, right: string): number | undefined => {
    const a = vocabulary.get(left);
    const b = vocabulary.get(right);
    if (a !== undefined && b !== undefined) {
      const rank = table.get(a, b);
      if (rank !== undefined) return rank;
    }
    return outside?.get(JSON.stringify([left, right]));
  };
  bpe.add_node = (queue: { push(node: MergeNode): void }, node: MergeNode): void => {
    const rank = rankOf(node.token, node.next!.token);
    if (rank !== undefined) {
      node.score = rank + node.bias;
      queue.push(node);
    }
  };
  bpe.bpe_ranks = { size: ranks.size, table };
  return true;
}

/**
 * The vocabulary as a character trie over each token's decoded text, built once per tokenizer. A grammar state's
 * token mask is one walk of this trie that stops at the first character the grammar refuses, so tokens sharing a
 * refused prefix are skipped together (llama.cpp and outlines do the same), instead of testing every token.
 *
 * Nodes are numbered in depth-first order with siblings sorted, so the trie is four flat arrays: node n's children
 * start at n + 1 and follow each other by `subtreeEnd`.
 */
export class TokenTrie {
  /** Per node: the character on the edge into it (root: -1). */
  readonly char: Int32Array;
  /** Per node: the first node after its subtree. */
  readonly subtreeEnd: Int32Array;
  /** Per node: its token ids are endIds[endStart[n] .. endStart[n + 1]). */
  readonly endStart: Int32Array;
  readonly endIds: Int32Array;
  /** Per token id: its code points (undefined for tokens no constraint ever picks). */
  readonly codePoints: (Int32Array | undefined)[];

  /**
   * `texts[id]`: the token's text as it reads inside a longer output. Tokens with empty text (special tokens) or
   * a U+FFFD (part of a UTF-8 character split across tokens) are left out: a constrained row never picks them.
   */
  constructor(
    texts: readonly (string | undefined)[],
    readonly eosIds: ReadonlySet<number>,
  ) {
    this.codePoints = texts.map((text, id) => {
      if (!text || text.includes("\ufffd") || eosIds.has(id)) return undefined;
      return Int32Array.from(text, (c) => c.codePointAt(0)!);
    });
    const ids: number[] = [];
    this.codePoints.forEach((cps, id) => cps && ids.push(id));
    const cps = this.codePoints as Int32Array[];
    ids.sort((a, b) => {
      const x = cps[a]!;
      const y = cps[b]!;
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length || a - b;
    });
    const char: number[] = [-1];
    const parent: number[] = [-1];
    const endNode: number[] = [];
    const path = [0]; // path[d]: the node at depth d on the current branch
    let previous: Int32Array = new Int32Array(0);
    for (const id of ids) {
      const text = cps[id]!;
      let common = 0;
      while (common < text.length && common < previous.length && text[common] === previous[common]) common++;
      path.length = common + 1;
      for (let d = common; d < text.length; d++) {
        path.push(char.push(text[d]!) - 1);
        parent.push(path[d]!);
      }
      endNode.push(path[text.length]!);
      previous = text;
    }
    const nodes = char.length;
    this.char = Int32Array.from(char);
    // Preorder: a node's subtree ends where the next node that is not its descendant starts.
    const end = new Int32Array(nodes).fill(nodes);
    const open: number[] = [];
    for (let n = 0; n < nodes; n++) {
      while (open.length > 0 && open[open.length - 1] !== parent[n]) end[open.pop()!] = n;
      open.push(n);
    }
    this.subtreeEnd = end;
    this.endStart = new Int32Array(nodes + 1);
    for (const node of endNode) this.endStart[node + 1]!++;
    for (let n = 0; n < nodes; n++) this.endStart[n + 1]! += this.endStart[n]!;
    this.endIds = Int32Array.from(ids); // sorted order groups tokens by end node, in node order
  }

  get size(): number {
    return this.codePoints.length;
  }
}

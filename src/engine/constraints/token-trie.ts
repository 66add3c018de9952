/**
 * The vocabulary as a character trie over each token's decoded text, built once per tokenizer. A grammar state's
 * token mask is one walk of this trie that stops at the first character the grammar refuses, so tokens sharing a
 * refused prefix are skipped together (llama.cpp and outlines do the same), instead of testing every token.
 */
export class TokenTrie {
  /** Per node: its first edge in `edgeChar` / `edgeChild`, and the first token id ending there in `endIds`. */
  readonly edgeStart: Int32Array;
  readonly edgeChar: Int32Array;
  readonly edgeChild: Int32Array;
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
    type Node = { children: Map<number, Node>; ids: number[] };
    const root: Node = { children: new Map(), ids: [] };
    this.codePoints = texts.map((text, id) => {
      if (!text || text.includes("\ufffd") || eosIds.has(id)) return undefined;
      const cps = Int32Array.from([...text].map((c) => c.codePointAt(0)!));
      let node = root;
      for (const cp of cps) {
        let child = node.children.get(cp);
        if (!child) node.children.set(cp, (child = { children: new Map(), ids: [] }));
        node = child;
      }
      node.ids.push(id);
      return cps;
    });
    const order: Node[] = [root];
    for (let i = 0; i < order.length; i++) for (const child of order[i]!.children.values()) order.push(child);
    const index = new Map(order.map((n, i) => [n, i]));
    const edgeStart = new Int32Array(order.length + 1);
    const endStart = new Int32Array(order.length + 1);
    const edgeChar: number[] = [];
    const edgeChild: number[] = [];
    const endIds: number[] = [];
    order.forEach((node, i) => {
      edgeStart[i] = edgeChar.length;
      endStart[i] = endIds.length;
      for (const [cp, child] of [...node.children].sort((a, b) => a[0] - b[0])) {
        edgeChar.push(cp);
        edgeChild.push(index.get(child)!);
      }
      endIds.push(...node.ids);
    });
    edgeStart[order.length] = edgeChar.length;
    endStart[order.length] = endIds.length;
    this.edgeStart = edgeStart;
    this.endStart = endStart;
    this.edgeChar = Int32Array.from(edgeChar);
    this.edgeChild = Int32Array.from(edgeChild);
    this.endIds = Int32Array.from(endIds);
  }

  get size(): number {
    return this.codePoints.length;
  }
}

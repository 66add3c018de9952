/**
 * A context-free grammar over characters (Unicode code points), in the shape llama.cpp's GBNF sampler runs: rules
 * are alternatives of sequences, a sequence holds character sets and references to rules. The schema and pattern
 * compilers build one with `GrammarBuilder`; `Grammar` is its frozen, flat form that the matcher walks.
 */

/** Sorted, non-overlapping inclusive code point ranges: [lo0, hi0, lo1, hi1, …]. */
export type CharRanges = readonly number[];

export type Element = { kind: "chars"; ranges: CharRanges } | { kind: "rule"; rule: number };
export type Sequence = readonly Element[];

export const MAX_CODE_POINT = 0x10ffff;

export function chars(ranges: CharRanges): Element {
  return { kind: "chars", ranges };
}

export function charOf(text: string): Element {
  const cp = text.codePointAt(0)!;
  return chars([cp, cp]);
}

export function literal(text: string): Element[] {
  return [...text].map(charOf);
}

/** Normalises ranges: sorted, merged, clipped to the code point space. */
export function normaliseRanges(ranges: readonly number[]): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) {
    const lo = Math.max(0, ranges[i]!);
    const hi = Math.min(MAX_CODE_POINT, ranges[i + 1]!);
    if (lo <= hi) pairs.push([lo, hi]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (last > 0 && lo <= out[last]! + 1) out[last] = Math.max(out[last]!, hi);
    else out.push(lo, hi);
  }
  return out;
}

export function invertRanges(ranges: CharRanges): number[] {
  const norm = normaliseRanges(ranges);
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < norm.length; i += 2) {
    if (norm[i]! > next) out.push(next, norm[i]! - 1);
    next = norm[i + 1]! + 1;
  }
  if (next <= MAX_CODE_POINT) out.push(next, MAX_CODE_POINT);
  return out;
}

export function intersectRanges(a: CharRanges, b: CharRanges): number[] {
  return invertRanges([...invertRanges(a), ...invertRanges(b)]);
}

export function inRanges(ranges: CharRanges, cp: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) {
    if (cp < ranges[i]!) return false;
    if (cp <= ranges[i + 1]!) return true;
  }
  return false;
}

/** Builds rules; structurally equal anonymous rules are shared, so repeated sub-schemas cost one rule. */
export class GrammarBuilder {
  private readonly rules: (Sequence[] | undefined)[] = [];
  private readonly names: string[] = [];
  private readonly shared = new Map<string, number>();

  /** Reserves a rule to define later (for recursion through `$ref`). */
  declare(name: string): number {
    this.names.push(name);
    return this.rules.push(undefined) - 1;
  }

  define(rule: number, alternatives: readonly Sequence[]): void {
    if (this.rules[rule]) throw new Error(`rule ${this.names[rule]} defined twice`);
    this.rules[rule] = [...alternatives];
  }

  /** A rule for these alternatives, shared with any identical one. */
  rule(name: string, alternatives: readonly Sequence[]): number {
    const key = JSON.stringify(alternatives);
    const known = this.shared.get(key);
    if (known !== undefined) return known;
    const id = this.declare(name);
    this.define(id, alternatives);
    this.shared.set(key, id);
    return id;
  }

  ref(name: string, alternatives: readonly Sequence[]): Element {
    return { kind: "rule", rule: this.rule(name, alternatives) };
  }

  optional(seq: Sequence): Element {
    return this.ref("opt", [seq, []]);
  }

  /** seq repeated min..max times (max Infinity: unbounded), by right recursion so the matcher's stacks stay flat. */
  repeat(seq: Sequence, min: number, max: number, separator: Sequence = []): Element[] {
    if (min === 0 && max === 0) return [];
    if (min === 0) return [this.optional(this.repeat(seq, 1, max, separator))];
    const out: Element[] = [...seq];
    for (let i = 1; i < min; i++) out.push(...separator, ...seq);
    if (max === Infinity) {
      out.push(this.star([...separator, ...seq]));
    } else {
      let tail: Element[] = [];
      for (let i = min; i < max; i++) tail = [this.optional([...separator, ...seq, ...tail])];
      out.push(...tail);
    }
    return out;
  }

  star(seq: Sequence): Element {
    const id = this.declare("star");
    this.define(id, [[...seq, { kind: "rule", rule: id }], []]);
    return { kind: "rule", rule: id };
  }

  build(root: Sequence): Grammar {
    const rootId = this.declare("root");
    this.define(rootId, [root]);
    const missing = this.rules.findIndex((r) => r === undefined);
    if (missing >= 0) throw new Error(`rule ${this.names[missing]} was declared but never defined`);
    return new Grammar(this.rules as Sequence[][], this.names, rootId);
  }
}

/** End of an alternative in the flat program. */
export const END = -1;

/**
 * The flat program: every alternative is a run of positions ending in END. A position holds a character set (its
 * index in `sets`, ≥ 0 after shifting) or a rule reference.
 */
export class Grammar {
  /** Per position: kind 0 = END, 1 = chars, 2 = rule. */
  readonly kinds: Uint8Array;
  /** Per position: the set index (chars) or rule id (rule). */
  readonly args: Int32Array;
  readonly sets: CharRanges[] = [];
  /** Start positions of each rule's alternatives. */
  readonly alternatives: number[][];
  /** Fewest characters that complete the program from each position to the end of its alternative. */
  readonly suffixMin: Float64Array;
  readonly ruleMin: Float64Array;
  readonly root: number;

  constructor(rules: readonly Sequence[][], readonly names: readonly string[], root: number) {
    this.root = root;
    const kinds: number[] = [];
    const args: number[] = [];
    const setIds = new Map<string, number>();
    this.alternatives = rules.map((alts) =>
      alts.map((seq) => {
        const start = kinds.length;
        for (const el of seq) {
          if (el.kind === "rule") {
            kinds.push(2);
            args.push(el.rule);
          } else {
            const key = el.ranges.join(",");
            let id = setIds.get(key);
            if (id === undefined) {
              id = this.sets.push(el.ranges) - 1;
              setIds.set(key, id);
            }
            kinds.push(1);
            args.push(id);
          }
        }
        kinds.push(0);
        args.push(END);
        return start;
      }),
    );
    this.kinds = Uint8Array.from(kinds);
    this.args = Int32Array.from(args);
    this.ruleMin = new Float64Array(rules.length).fill(Infinity);
    this.suffixMin = new Float64Array(kinds.length).fill(Infinity);
    // Fixed point: a rule's shortest expansion, given its references' current bounds.
    for (let changed = true; changed; ) {
      changed = false;
      for (let r = 0; r < rules.length; r++) {
        for (const start of this.alternatives[r]!) {
          const len = this.measure(start);
          if (len < this.ruleMin[r]!) {
            this.ruleMin[r] = len;
            changed = true;
          }
        }
      }
    }
    if (this.ruleMin[root] === Infinity) throw new Error("the grammar accepts no string");
    this.refuseLeftRecursion();
  }

  /** A rule that can reach itself without reading a character would send the matcher round forever. */
  private refuseLeftRecursion(): void {
    const left = this.alternatives.map((starts) => {
      const out = new Set<number>();
      for (let p of starts) {
        for (; this.kinds[p] === 2; p++) {
          out.add(this.args[p]!);
          if (this.ruleMin[this.args[p]!]! > 0) break;
        }
      }
      return out;
    });
    const state = new Uint8Array(left.length); // 0 new, 1 on the path, 2 done
    const visit = (r: number): void => {
      if (state[r] === 2) return;
      if (state[r] === 1) throw new Error(`rule ${this.names[r]} refers to itself before reading a character`);
      state[r] = 1;
      for (const next of left[r]!) visit(next);
      state[r] = 2;
    };
    for (let r = 0; r < left.length; r++) visit(r);
  }

  /** Sets suffixMin for the alternative starting at `start` and returns its total. */
  private measure(start: number): number {
    let end = start;
    while (this.kinds[end] !== 0) end++;
    let acc = 0;
    this.suffixMin[end] = 0;
    for (let p = end - 1; p >= start; p--) {
      acc += this.kinds[p] === 1 ? 1 : this.ruleMin[this.args[p]!]!;
      this.suffixMin[p] = acc;
    }
    return acc;
  }
}

import { inRanges, type CharRanges, type Grammar } from "./grammar.ts";

/** The empty stack: everything matched, the grammar accepts here. */
const EMPTY = 0;
export const DEAD = -1;

/**
 * Runs a Grammar one character at a time the way llama.cpp's grammar sampler does: a state is the set of parse
 * stacks still alive, each stack's top a character set. Stacks and states are interned (numbered once), and every
 * transition is memoised, so a walk that comes back to a state it has seen (inside a string, in another row, in
 * another request with the same schema) costs one map lookup per character.
 */
export class GrammarMatcher {
  private readonly stackPos: number[] = [-1];
  private readonly stackParent: number[] = [-1];
  private readonly stackDist: number[] = [0];
  private readonly stackIds = new Map<number, number>();
  private readonly expansions: (readonly number[] | undefined)[] = [];
  private readonly expanding = new Set<number>();
  private readonly stateStacks: (readonly number[])[] = [];
  private readonly stateIds = new Map<string, number>();
  /** Per state: ASCII transitions in a table (-2: not computed yet), others in a map. */
  private readonly ascii: Int32Array[] = [];
  private readonly transitions: Map<number, number>[] = [];
  private readonly stateDist: number[] = [];
  readonly initial: number;

  constructor(readonly grammar: Grammar) {
    const g = grammar;
    const stacks = new Set<number>();
    for (const start of g.alternatives[g.root]!) for (const s of this.expand(this.push(start, EMPTY))) stacks.add(s);
    this.initial = this.state([...stacks]);
  }

  get stateCount(): number {
    return this.stateStacks.length;
  }

  /** The state after `cp`, or DEAD when no stack takes it. */
  step(state: number, cp: number): number {
    if (cp < 128) {
      const table = this.ascii[state]!;
      const known = table[cp]!;
      if (known !== -2) return known;
      return (table[cp] = this.compute(state, cp));
    }
    const memo = this.transitions[state]!;
    const known = memo.get(cp);
    if (known !== undefined) return known;
    const result = this.compute(state, cp);
    memo.set(cp, result);
    return result;
  }

  private compute(state: number, cp: number): number {
    const g = this.grammar;
    const next = new Set<number>();
    for (const s of this.stateStacks[state]!) {
      if (s === EMPTY) continue;
      const pos = this.stackPos[s]!;
      if (!inRanges(g.sets[g.args[pos]!]!, cp)) continue;
      for (const t of this.expand(this.push(pos + 1, this.stackParent[s]!))) next.add(t);
    }
    return next.size === 0 ? DEAD : this.state([...next]);
  }

  /** The grammar accepts the text read so far. */
  accepts(state: number): boolean {
    return this.stateStacks[state]![0] === EMPTY;
  }

  /** No character can follow. */
  closed(state: number): boolean {
    const stacks = this.stateStacks[state]!;
    return stacks.length === 1 && stacks[0] === EMPTY;
  }

  /** The character sets that may come next, one per live stack (for tests and diagnostics). */
  nextSets(state: number): CharRanges[] {
    const g = this.grammar;
    return this.stateStacks[state]!.filter((s) => s !== EMPTY).map((s) => g.sets[g.args[this.stackPos[s]!]!]!);
  }

  /** Fewest characters that complete the text read so far. */
  distance(state: number): number {
    return this.stateDist[state]!;
  }

  /** A stack with `pos` on top of `parent`; a position at the end of its alternative is popped at once. */
  private push(pos: number, parent: number): number {
    if (this.grammar.kinds[pos] === 0) return parent;
    const key = parent * this.grammar.kinds.length + pos;
    let id = this.stackIds.get(key);
    if (id === undefined) {
      id = this.stackPos.push(pos) - 1;
      this.stackParent.push(parent);
      this.stackDist.push(this.grammar.suffixMin[pos]! + this.stackDist[parent]!);
      this.stackIds.set(key, id);
    }
    return id;
  }

  /** The stacks with a character set on top (or EMPTY) that a stack stands for, rules entered as needed. */
  private expand(stack: number): readonly number[] {
    const known = this.expansions[stack];
    if (known) return known;
    if (stack === EMPTY) return (this.expansions[stack] = [EMPTY]);
    const g = this.grammar;
    const pos = this.stackPos[stack]!;
    if (g.kinds[pos] === 1) return (this.expansions[stack] = [stack]);
    if (this.expanding.has(stack)) throw new Error(`left recursion through rule ${g.names[g.args[pos]!]}`);
    this.expanding.add(stack);
    const continuation = this.push(pos + 1, this.stackParent[stack]!);
    const out = new Set<number>();
    for (const start of g.alternatives[g.args[pos]!]!) for (const s of this.expand(this.push(start, continuation))) out.add(s);
    this.expanding.delete(stack);
    return (this.expansions[stack] = [...out]);
  }

  private state(stacks: number[]): number {
    stacks.sort((a, b) => a - b);
    const key = stacks.join(",");
    let id = this.stateIds.get(key);
    if (id === undefined) {
      id = this.stateStacks.push(stacks) - 1;
      this.stateIds.set(key, id);
      this.transitions.push(new Map());
      this.ascii.push(new Int32Array(128).fill(-2));
      this.stateDist.push(Math.min(...stacks.map((s) => this.stackDist[s]!)));
    }
    return id;
  }
}

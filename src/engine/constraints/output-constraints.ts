import type { OutputFormat, ToolSet } from "./structured-request.ts";
import { CompiledConstraint } from "./token-constraint.ts";
import { outputGrammar } from "./tool-call-grammar.ts";
import { TokenTrie } from "./token-trie.ts";

/** Compiled constraints kept per model, so a schema used again reuses its grammar states and token masks. */
const KEPT = 32;

/**
 * One model's constrained decoding: its vocabulary's token trie (built on first use) and its recently compiled
 * constraints, keyed by what they enforce.
 */
export class OutputConstraints {
  private trie: TokenTrie | undefined;
  private readonly compiled = new Map<string, CompiledConstraint>();

  constructor(
    private readonly tokenTexts: () => (string | undefined)[],
    private readonly eosIds: ReadonlySet<number>,
  ) {}

  /** Undefined when nothing is enforced (plain text, no tools). Throws ConstraintSourceError for a schema it cannot enforce. */
  compile(format: OutputFormat, tools: ToolSet | undefined): CompiledConstraint | undefined {
    const key = JSON.stringify([format, tools ?? null]);
    const known = this.compiled.get(key);
    if (known) {
      this.compiled.delete(key);
      this.compiled.set(key, known);
      return known;
    }
    const grammar = outputGrammar(format, tools);
    if (!grammar) return undefined;
    this.trie ??= new TokenTrie(this.tokenTexts(), this.eosIds);
    const compiled = new CompiledConstraint(grammar, this.trie);
    this.compiled.set(key, compiled);
    if (this.compiled.size > KEPT) this.compiled.delete(this.compiled.keys().next().value!);
    return compiled;
  }
}

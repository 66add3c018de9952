import { describe, expect, test } from "bun:test";
import { schemaGrammar } from "../../../src/engine/constraints/json-schema.ts";
import { CompiledConstraint, type TokenConstraint } from "../../../src/engine/constraints/token-constraint.ts";
import { TokenTrie } from "../../../src/engine/constraints/token-trie.ts";
import { Sampler } from "../../../src/engine/sampler.ts";

// A fixed vocabulary: single characters, multi-character pieces, a partial UTF-8 byte (U+FFFD), a special token
// (empty text) and EOS (id 0).
const VOCAB = ["<eos>", "{", "}", '"', "a", "b", ":", ",", '{"', '":', "ab", '"}', "1", "2", "true", "tr", "ue", " ", "\ufffd", "", '{"a":', "é", "\n"];
const EOS = new Set([0]);
const trie = new TokenTrie(VOCAB, EOS);
const ids = (...texts: string[]) => texts.map((t) => VOCAB.indexOf(t)).sort((x, y) => x - y);

/** What a row's constraint leaves of `logits` (on a copy, as the sampler does). */
function masked(c: TokenConstraint, logits: Float32Array, remaining: number): Float32Array {
  const copy = logits.slice();
  c.apply(copy, remaining);
  return copy;
}

function allowed(masked: Float32Array): number[] {
  return [...masked.keys()].filter((i) => masked[i]! > -Infinity);
}

const OBJECT = { type: "object", properties: { a: { type: "string", maxLength: 2 } }, required: ["a"], additionalProperties: false };

describe("token masks on a fixed vocabulary", () => {
  test("allow exactly the tokens that keep the output a valid prefix", () => {
    const c = new CompiledConstraint(schemaGrammar(OBJECT), trie).start();
    const logits = new Float32Array(VOCAB.length).fill(1);
    expect(allowed(masked(c, logits, 100))).toEqual(ids("{", '{"', '{"a":'));
    c.accept(VOCAB.indexOf('{"'));
    expect(allowed(masked(c, logits, 100))).toEqual(ids("a"));
    c.accept(VOCAB.indexOf("a"));
    expect(allowed(masked(c, logits, 100))).toEqual(ids('"', '":'));
    c.accept(VOCAB.indexOf('":'));
    expect(allowed(masked(c, logits, 100))).toEqual(ids('"', '":', '"}'));
    c.accept(VOCAB.indexOf('"'));
    // String content up to 2 characters: never the partial byte, the special token, EOS, a raw newline, "true".
    expect(allowed(masked(c, logits, 100))).toEqual(ids('"', "a", "b", ":", ",", "ab", '"}', "1", "2", "tr", "ue", " ", "é", "{", "}", '{"'));
    c.accept(VOCAB.indexOf("ab"));
    expect(allowed(masked(c, logits, 100))).toEqual(ids('"', '"}'));
    expect(c.complete).toBe(false);
    c.accept(VOCAB.indexOf('"}'));
    expect(c.complete).toBe(true);
  });

  test("allowed tokens keep their values", () => {
    const c = new CompiledConstraint(schemaGrammar(OBJECT), trie).start();
    const logits = Float32Array.from(VOCAB, (_, i) => i / 10);
    const out = masked(c, logits, 100);
    for (const id of ids("{", '{"', '{"a":')) expect(out[id]).toBe(logits[id]!);
  });

  test("EOS is allowed exactly where the document may end", () => {
    const c = new CompiledConstraint(schemaGrammar({ type: "integer" }), trie).start();
    const logits = new Float32Array(VOCAB.length).fill(0);
    expect(allowed(masked(c, logits, 10))).toEqual(ids("1", "2"));
    c.accept(VOCAB.indexOf("1"));
    expect(allowed(masked(c, logits, 10))).toEqual(ids("<eos>", "1", "2"));
    expect(c.complete).toBe(false);
  });

  test("a low budget allows only tokens after which the document can still close in time", () => {
    const c = new CompiledConstraint(schemaGrammar({ type: "object", properties: { a: { type: "string" } }, required: ["a"] }), trie).start();
    const logits = new Float32Array(VOCAB.length).fill(0);
    c.accept(VOCAB.indexOf('{"a":'));
    c.accept(VOCAB.indexOf('"'));
    // Inside the string the fewest characters left are `"}`. With 2 tokens left (this one included) a token may
    // leave at most 1: only tokens that close the string are allowed; with 3, content is allowed again.
    expect(allowed(masked(c, logits, 2))).toEqual(ids('"', '{"', '"}'));
    expect(allowed(masked(c, logits, 3))).toContain(VOCAB.indexOf("ab"));
  });

  test("random-logit rows always finish with a valid document inside the budget", () => {
    const compiled = new CompiledConstraint(schemaGrammar(OBJECT), trie);
    for (let seed = 0; seed < 50; seed++) {
      const sampler = new Sampler({ temperature: 1, topP: 1, seed });
      const c = compiled.start();
      let text = "";
      const budget = 12;
      for (let used = 0; used < budget && !c.complete; used++) {
        const logits = Float32Array.from(VOCAB, (_, i) => Math.sin(seed * 31 + used * 7 + i) * 3);
        const token = sampler.sample(masked(c, logits, budget - used));
        c.accept(token);
        if (token === 0) break;
        text += VOCAB[token];
      }
      expect(c.complete).toBe(true);
      const value = JSON.parse(text) as { a: string };
      expect(Object.keys(value)).toEqual(["a"]);
      expect([...value.a].length).toBeLessThanOrEqual(2);
    }
  });

  test("masks are computed once per grammar state and shared by rows", () => {
    const compiled = new CompiledConstraint(schemaGrammar(OBJECT), trie);
    const a = compiled.start();
    const b = compiled.start();
    const logits = new Float32Array(VOCAB.length);
    expect(compiled.masks.get(compiled.matcher.initial)).toBe(compiled.masks.get(compiled.matcher.initial));
    expect(allowed(masked(a, logits, 50))).toEqual(allowed(masked(b, logits, 50)));
  });
});

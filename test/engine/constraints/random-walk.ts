import { DEAD, GrammarMatcher } from "../../../src/engine/constraints/grammar-matcher.ts";
import type { Grammar } from "../../../src/engine/constraints/grammar.ts";
import { createRng } from "../../../src/engine/sampler.ts";

/**
 * A random walk through a grammar, character by character: mostly printable ASCII picks, after `budget` characters
 * only picks that bring the end closer, so every walk ends with a complete document.
 */
export function randomWalk(grammar: Grammar, seed: number, budget = 60, matcher = new GrammarMatcher(grammar)): string {
  const rng = createRng(seed);
  let state = matcher.initial;
  let text = "";
  for (let steps = 0; steps < 5000; steps++) {
    if (matcher.closed(state)) return text;
    if (matcher.accepts(state) && (text.length > budget || rng() < 0.1)) return text;
    const candidates: number[] = [];
    for (const set of matcher.nextSets(state)) {
      for (let i = 0; i < set.length; i += 2) {
        const lo = set[i]!;
        const hi = set[i + 1]!;
        candidates.push(lo, hi);
        const top = Math.min(hi, Math.max(lo, 0x7e));
        for (let k = 0; k < 3; k++) candidates.push(lo + Math.floor(rng() * (top - lo + 1)));
        if (hi > 0x7f && rng() < 0.2) candidates.push(lo + Math.floor(rng() * (hi - lo + 1)));
      }
    }
    const live = candidates
      .filter((cp) => !(cp >= 0xd800 && cp <= 0xdfff))
      .map((cp) => ({ cp, next: matcher.step(state, cp) }))
      .filter((c) => c.next !== DEAD);
    if (live.length === 0) throw new Error(`walk stuck after ${JSON.stringify(text)}`);
    let pick = live[Math.floor(rng() * live.length)]!;
    if (text.length > budget) {
      const best = Math.min(...live.map((c) => matcher.distance(c.next)));
      const closing = live.filter((c) => matcher.distance(c.next) === best);
      pick = closing[Math.floor(rng() * closing.length)]!;
    }
    text += String.fromCodePoint(pick.cp);
    state = pick.next;
  }
  throw new Error(`walk did not end: ${JSON.stringify(text.slice(0, 200))}`);
}

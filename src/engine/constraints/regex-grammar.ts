import { chars, GrammarBuilder, invertRanges, MAX_CODE_POINT, normaliseRanges, type Element } from "./grammar.ts";

/** A regular expression construct the pattern compiler cannot turn into a grammar. */
export class PatternError extends Error {}

const DIGIT = [0x30, 0x39];
const WORD = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
const SPACE = [0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x2028, 0x2029, 0xfeff, 0xfeff];
const ANY_BUT_NEWLINE = invertRanges([0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029]);
const SIMPLE_ESCAPES: Record<string, number> = { n: 0x0a, r: 0x0d, t: 0x09, f: 0x0c, v: 0x0b, "0": 0 };

/** How a set of pattern characters is written into the output (e.g. escaped inside a JSON string). */
export type CharWriter = (ranges: number[]) => Element[][];

/**
 * Compiles a JavaScript-syntax regular expression (the subset JSON Schema's `pattern` uses in practice: literals,
 * classes, `.`, `\d\w\s`, groups, alternation, `* + ? {m,n}`) to a grammar that generates whole matches. A full
 * match also satisfies JSON Schema's unanchored search, so leading `^` and trailing `$` change nothing here.
 * Look-arounds, back-references and lazy/possessive subtleties are refused (PatternError).
 */
export function compilePattern(source: string, b: GrammarBuilder, write: CharWriter): Element[] {
  let i = 0;
  const peek = () => source[i];
  const fail = (what: string): never => {
    throw new PatternError(`${what} at offset ${i} is not supported`);
  };

  const set = (ranges: number[]): Element[] => {
    const alternatives = write(normaliseRanges(ranges));
    if (alternatives.length === 0) fail("a character class that no output character can match");
    return alternatives.length === 1 ? alternatives[0]! : [b.ref("class", alternatives)];
  };

  const escape = (inClass: boolean): number[] => {
    const c = source[i++];
    if (c === undefined) return fail("a trailing backslash");
    if (c === "d") return DIGIT;
    if (c === "D") return invertRanges(DIGIT);
    if (c === "w") return WORD;
    if (c === "W") return invertRanges(WORD);
    if (c === "s") return SPACE;
    if (c === "S") return invertRanges(SPACE);
    if (c in SIMPLE_ESCAPES) return [SIMPLE_ESCAPES[c]!, SIMPLE_ESCAPES[c]!];
    if (c === "u" || c === "x") {
      const len = c === "u" ? 4 : 2;
      const hex = source.slice(i, i + len);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail("an escape");
      i += len;
      const cp = parseInt(hex, 16);
      return [cp, cp];
    }
    if (/[0-9]/.test(c) || (!inClass && (c === "b" || c === "B"))) fail(`the escape \\${c}`);
    const cp = c.codePointAt(0)!;
    return [cp, cp];
  };

  const charClass = (): number[] => {
    i++; // [
    const negate = peek() === "^";
    if (negate) i++;
    const ranges: number[] = [];
    let first = true;
    while (peek() !== "]" || first) {
      first = false;
      if (i >= source.length) fail("an unterminated class");
      let lo: number[];
      if (peek() === "\\") {
        i++;
        lo = escape(true);
      } else {
        const cp = source.codePointAt(i)!;
        i += cp > 0xffff ? 2 : 1;
        lo = [cp, cp];
      }
      if (peek() === "-" && source[i + 1] !== "]" && lo.length === 2 && lo[0] === lo[1]) {
        i++;
        let hi: number;
        if (peek() === "\\") {
          i++;
          const e = escape(true);
          if (e.length !== 2 || e[0] !== e[1]) fail("a class range");
          hi = e[0]!;
        } else {
          hi = source.codePointAt(i)!;
          i += hi > 0xffff ? 2 : 1;
        }
        ranges.push(lo[0]!, hi);
      } else ranges.push(...lo);
    }
    i++; // ]
    return negate ? invertRanges(ranges) : ranges;
  };

  const atom = (): Element[] => {
    const c = peek()!;
    if (c === "(") {
      i++;
      if (source.startsWith("?:", i)) i += 2;
      else if (peek() === "?") fail("a look-around or named group");
      const inner = alternation();
      if (peek() !== ")") fail("an unclosed group");
      i++;
      return inner;
    }
    if (c === "[") return set(charClass());
    if (c === ".") {
      i++;
      return set(ANY_BUT_NEWLINE);
    }
    if (c === "\\") {
      i++;
      return set(escape(false));
    }
    if ("*+?{".includes(c)) fail("a quantifier with nothing to repeat");
    const cp = source.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    return set([cp, cp]);
  };

  const quantified = (): Element[] => {
    const base = atom();
    let min = 1;
    let max = 1;
    const c = peek();
    if (c === "*") [min, max] = [0, Infinity];
    else if (c === "+") [min, max] = [1, Infinity];
    else if (c === "?") [min, max] = [0, 1];
    else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (!m) return base;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      if (max < min || min > 1000 || (max !== Infinity && max > 1000)) fail("a repetition bound");
      i += m[0].length - 1;
    } else return base;
    i++;
    if (peek() === "?" || peek() === "+") i++; // lazy or possessive: the same language
    return b.repeat(base, min, max);
  };

  const sequence = (): Element[] => {
    const out: Element[] = [];
    while (i < source.length && peek() !== "|" && peek() !== ")") {
      if (peek() === "^" || (peek() === "$" && (i === source.length - 1 || "|)".includes(source[i + 1]!)))) {
        i++; // anchors: we always generate a whole match
        continue;
      }
      out.push(...quantified());
    }
    return out;
  };

  function alternation(): Element[] {
    const alternatives = [sequence()];
    while (peek() === "|") {
      i++;
      alternatives.push(sequence());
    }
    return alternatives.length === 1 ? alternatives[0]! : [b.ref("alt", alternatives)];
  }

  const result = alternation();
  if (i < source.length) fail("an unbalanced parenthesis");
  return result;
}

/** Writes characters as they are (for patterns over plain ASCII like integer ranges). */
export const writePlain: CharWriter = (ranges) => (ranges.length > 0 ? [[chars(ranges)]] : []);

export { MAX_CODE_POINT };

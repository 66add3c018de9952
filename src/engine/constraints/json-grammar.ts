import { chars, GrammarBuilder, inRanges, intersectRanges, literal, type Element } from "./grammar.ts";
import type { CharWriter } from "./regex-grammar.ts";

/**
 * The JSON building blocks every compiled schema shares. Output is compact JSON: no insignificant whitespace at
 * all, so a random-weight model cannot spend its budget on blanks, and numbers have bounded digits (at most 15
 * before and 6 after the point, no exponent), so every value the grammar allows parses to a finite number.
 */

/** Characters a JSON string may hold unescaped (lone surrogates left out). */
export const RAW_STRING_CHARS = [0x20, 0x21, 0x23, 0x5b, 0x5d, 0xd7ff, 0xe000, 0x10ffff];
const ESCAPES: [number, string][] = [
  [0x22, '\\"'],
  [0x5c, "\\\\"],
  [0x0a, "\\n"],
  [0x0d, "\\r"],
  [0x09, "\\t"],
  [0x08, "\\b"],
  [0x0c, "\\f"],
];
const HEX = [0x30, 0x39, 0x41, 0x46, 0x61, 0x66];
export const MAX_INT_DIGITS = 15;
export const MAX_FRACTION_DIGITS = 6;

/** Writes pattern characters inside a JSON string: raw where JSON allows it, escaped where it must be. */
export const writeJsonString: CharWriter = (ranges) => {
  const out: Element[][] = [];
  const raw = intersectRanges(ranges, RAW_STRING_CHARS);
  if (raw.length > 0) out.push([chars(raw)]);
  for (const [cp, text] of ESCAPES) if (inRanges(ranges, cp)) out.push(literal(text));
  return out;
};

export class JsonGrammar {
  private cached = new Map<string, Element[]>();
  constructor(readonly b: GrammarBuilder) {}

  private memo(key: string, make: () => Element[]): Element[] {
    let known = this.cached.get(key);
    if (!known) this.cached.set(key, (known = make()));
    return known;
  }

  /** One decoded character of a string: a raw character or an escape (\u escapes outside the surrogate range). */
  stringChar(): Element[] {
    return this.memo("char", () => {
      const notSurrogate = [0x30, 0x39, 0x41, 0x43, 0x45, 0x46, 0x61, 0x63, 0x65, 0x66];
      const unicode = [
        ...literal("\\u"),
        this.b.ref("hex4", [
          [chars(notSurrogate), chars(HEX), chars(HEX), chars(HEX)],
          [chars([0x44, 0x44, 0x64, 0x64]), chars([0x30, 0x37]), chars(HEX), chars(HEX)],
        ]),
      ];
      return [this.b.ref("char", [...writeJsonString([0, 0x10ffff]), unicode])];
    });
  }

  string(minLength = 0, maxLength = Infinity): Element[] {
    return this.memo(`string:${minLength}:${maxLength}`, () => [
      this.b.ref("string", [[...literal('"'), ...this.b.repeat(this.stringChar(), minLength, maxLength), ...literal('"')]]),
    ]);
  }

  /** -?(0|[1-9][0-9]{0,14}) */
  integer(): Element[] {
    return this.memo("integer", () => {
      const digits = [chars([0x31, 0x39]), ...this.b.repeat([chars([0x30, 0x39])], 0, MAX_INT_DIGITS - 1)];
      return [this.b.ref("integer", [[this.b.optional(literal("-")), this.b.ref("natural", [literal("0"), digits])]])];
    });
  }

  fraction(): Element[] {
    return this.memo("fraction", () => [this.b.optional([...literal("."), ...this.b.repeat([chars([0x30, 0x39])], 1, MAX_FRACTION_DIGITS)])]);
  }

  number(): Element[] {
    return this.memo("number", () => [this.b.ref("number", [[...this.integer(), ...this.fraction()]])]);
  }

  /** Any JSON value (the `{}` schema), objects and arrays nesting through recursion. */
  value(): Element[] {
    return this.memo("value", () => {
      const b = this.b;
      const valueRule = b.declare("value");
      const value: Element = { kind: "rule", rule: valueRule };
      const member = [...this.string(), ...literal(":"), value];
      const object = b.ref("object", [[...literal("{"), ...b.repeat(member, 0, Infinity, literal(",")), ...literal("}")]]);
      const array = b.ref("array", [[...literal("["), ...b.repeat([value], 0, Infinity, literal(",")), ...literal("]")]]);
      b.define(valueRule, [[object], [array], this.string(), this.number(), literal("true"), literal("false"), literal("null")]);
      return [value];
    });
  }

  /** Any JSON object (`json_object` mode). */
  object(): Element[] {
    return this.memo("object", () => {
      const member = [...this.string(), ...literal(":"), ...this.value()];
      return [this.b.ref("object", [[...literal("{"), ...this.b.repeat(member, 0, Infinity, literal(",")), ...literal("}")]])];
    });
  }
}

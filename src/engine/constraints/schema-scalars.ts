import toRegexRange from "to-regex-range";
import { literal, type Element, type GrammarBuilder } from "./grammar.ts";
import { type JsonGrammar, MAX_INT_DIGITS, writeJsonString } from "./json-grammar.ts";
import { compilePattern, PatternError, writePlain } from "./regex-grammar.ts";
import { count, SchemaError, type Schema } from "./schema-error.ts";

/** A finite maxLength above this is generated as if it were this (shorter strings still satisfy it). */
export const LENGTH_CAP = 512;
const INT_CAP = 10 ** MAX_INT_DIGITS - 1;

const FORMATS: Record<string, string> = {
  date: "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])",
  time: "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,3})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])",
  "date-time":
    "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,3})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])",
  uuid: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
  email: "[a-z0-9]{1,20}@[a-z0-9]{1,20}\\.[a-z]{2,6}",
};

/** Grammars for string, integer and number schemas: lengths, patterns, formats and numeric bounds. */
export class ScalarSchemas {
  constructor(
    private readonly b: GrammarBuilder,
    private readonly json: JsonGrammar,
  ) {}

  string(s: Schema, path: string): Element[] {
    const min = count(s.minLength, "minLength", path) ?? 0;
    let max = count(s.maxLength, "maxLength", path) ?? Infinity;
    if (max < min) throw new SchemaError("maxLength", `${path}/maxLength`, "'maxLength' is below 'minLength'");
    let pattern = s.pattern;
    if (s.format !== undefined) {
      pattern = FORMATS[s.format as string];
      if (pattern === undefined) throw new SchemaError("format", `${path}/format`, `format ${JSON.stringify(s.format)} cannot be enforced`);
      if (s.pattern !== undefined) throw new SchemaError("pattern", `${path}/pattern`, "'pattern' beside 'format' cannot be enforced");
    }
    if (pattern !== undefined) {
      const keyword = s.format !== undefined ? "format" : "pattern";
      if (s.minLength !== undefined || s.maxLength !== undefined) {
        throw new SchemaError(keyword, `${path}/${keyword}`, `'${keyword}' with 'minLength'/'maxLength' cannot be enforced`);
      }
      if (typeof pattern !== "string") throw new SchemaError("pattern", `${path}/pattern`, "'pattern' must be a string");
      try {
        return [...literal('"'), ...compilePattern(pattern, this.b, writeJsonString), ...literal('"')];
      } catch (error) {
        if (error instanceof PatternError) throw new SchemaError(keyword, `${path}/${keyword}`, error.message);
        throw error;
      }
    }
    if (max !== Infinity) max = Math.min(max, Math.max(min, LENGTH_CAP));
    return this.json.string(min, max);
  }

  private bounds(s: Schema, path: string, integral: boolean): [number, number] | undefined {
    const num = (k: string) => {
      const v = s[k];
      if (v === undefined) return undefined;
      if (typeof v !== "number" || !Number.isFinite(v)) throw new SchemaError(k, `${path}/${k}`, `'${k}' must be a number`);
      if (!integral && !Number.isInteger(v)) throw new SchemaError(k, `${path}/${k}`, `a fractional '${k}' on a number cannot be enforced`);
      return v;
    };
    const [min, max, xmin, xmax] = [num("minimum"), num("maximum"), num("exclusiveMinimum"), num("exclusiveMaximum")];
    if ([min, max, xmin, xmax].every((v) => v === undefined)) return undefined;
    if (!integral && (xmin !== undefined || xmax !== undefined)) {
      const k = xmin !== undefined ? "exclusiveMinimum" : "exclusiveMaximum";
      throw new SchemaError(k, `${path}/${k}`, `'${k}' on a number cannot be enforced`);
    }
    let lo = -INT_CAP;
    let hi = INT_CAP;
    if (min !== undefined) lo = Math.max(lo, Math.ceil(min));
    if (xmin !== undefined) lo = Math.max(lo, Math.floor(xmin) + 1);
    if (max !== undefined) hi = Math.min(hi, Math.floor(max));
    if (xmax !== undefined) hi = Math.min(hi, Math.ceil(xmax) - 1);
    if (lo > hi) throw new SchemaError("minimum", `${path}/minimum`, "no number lies between the bounds");
    return [lo, hi];
  }

  private range(lo: number, hi: number): Element[] {
    return compilePattern(toRegexRange(lo, hi), this.b, writePlain);
  }

  integer(s: Schema, path: string): Element[] {
    const bounds = this.bounds(s, path, true);
    if (!bounds) return this.json.integer();
    return [this.b.ref("int", [this.range(...bounds)])];
  }

  number(s: Schema, path: string): Element[] {
    const bounds = this.bounds(s, path, false);
    if (!bounds) return this.json.number();
    const [lo, hi] = bounds;
    if (lo < 0) throw new SchemaError("minimum", `${path}/minimum`, "a number range below 0 cannot be enforced (integers can)");
    const alternatives = [this.range(hi, hi)];
    if (lo < hi) alternatives.push([...this.range(lo, hi - 1), ...this.json.fraction()]);
    return [this.b.ref("num", alternatives)];
  }
}

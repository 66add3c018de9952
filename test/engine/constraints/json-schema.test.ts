import { describe, expect, test } from "bun:test";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { DEAD, GrammarMatcher } from "../../../src/engine/constraints/grammar-matcher.ts";
import type { Grammar } from "../../../src/engine/constraints/grammar.ts";
import { jsonObjectGrammar, schemaGrammar, SchemaError } from "../../../src/engine/constraints/json-schema.ts";
import { randomWalk } from "./random-walk.ts";

const ajv = new Ajv2020({ strict: false });
addFormats(ajv);

/** Whether the grammar generates exactly this text. */
function generates(grammar: Grammar, text: string): boolean {
  const m = new GrammarMatcher(grammar);
  let state = m.initial;
  for (const ch of text) {
    state = m.step(state, ch.codePointAt(0)!);
    if (state === DEAD) return false;
  }
  return m.accepts(state);
}

const SCHEMAS: Record<string, unknown> = {
  "object with required and optional properties": {
    type: "object",
    properties: { name: { type: "string" }, age: { type: "integer" }, ok: { type: "boolean" }, note: { type: "null" } },
    required: ["name", "ok"],
    additionalProperties: false,
  },
  "enum and const": { type: "object", properties: { c: { enum: ["red", 1, null, { x: [1] }] }, k: { const: "fixed" } }, required: ["c", "k"] },
  "anyOf and type lists": { anyOf: [{ type: "string", maxLength: 3 }, { type: ["integer", "boolean"] }, { type: "array", items: { type: "number" }, maxItems: 2 }] },
  "array bounds": { type: "array", items: { type: "integer", minimum: -3, maximum: 3 }, minItems: 2, maxItems: 4 },
  "string lengths": { type: "object", properties: { a: { type: "string", minLength: 2, maxLength: 5 }, b: { type: "string", maxLength: 0 } }, required: ["a", "b"] },
  "integer ranges": {
    type: "object",
    properties: {
      a: { type: "integer", minimum: 0, maximum: 120 },
      b: { type: "integer", minimum: -250, maximum: -7 },
      c: { type: "integer", exclusiveMinimum: 10, exclusiveMaximum: 13 },
      d: { type: "integer", minimum: 1000 },
      e: { type: "integer", maximum: -5 },
    },
    required: ["a", "b", "c", "d", "e"],
  },
  "number ranges": { type: "array", prefixItems: [{ type: "number", minimum: 0, maximum: 1 }, { type: "number", minimum: 2, maximum: 5 }], items: false },
  patterns: {
    type: "array",
    prefixItems: [
      { type: "string", pattern: "^[A-Z][a-z]{1,4} \\d{2,3}$" },
      { type: "string", pattern: "^(cat|dog)s?-[^\\s]+$" },
      { type: "string", pattern: "^\"quoted\\\\\" \\w+$" },
    ],
    items: false,
  },
  formats: {
    type: "object",
    properties: { d: { type: "string", format: "date" }, t: { type: "string", format: "date-time" }, u: { type: "string", format: "uuid" }, e: { type: "string", format: "email" }, h: { type: "string", format: "time" } },
    required: ["d", "t", "u", "e", "h"],
  },
  "$ref, $defs and recursion": {
    $defs: { node: { type: "object", properties: { v: { type: "integer" }, kids: { type: "array", items: { $ref: "#/$defs/node" }, maxItems: 2 } }, required: ["v", "kids"], additionalProperties: false } },
    $ref: "#/$defs/node",
  },
  "definitions and a single allOf": { definitions: { s: { type: "string", maxLength: 2 } }, type: "object", properties: { x: { allOf: [{ $ref: "#/definitions/s" }] } }, required: ["x"] },
  "nullable (OpenAPI) and nullable types": { type: "object", properties: { a: { type: "string", nullable: true }, b: { type: ["integer", "null"] } }, required: ["a", "b"] },
  "maps (additionalProperties schema)": { type: "object", additionalProperties: { type: "integer", minimum: 0, maximum: 9 } },
  "any value": {},
  "OpenAI strict example": {
    type: "object",
    properties: {
      steps: { type: "array", items: { type: "object", properties: { explanation: { type: "string" }, output: { type: "string" } }, required: ["explanation", "output"], additionalProperties: false } },
      final_answer: { type: "string" },
    },
    required: ["steps", "final_answer"],
    additionalProperties: false,
  },
};

describe("schema compiler: every random walk is a document that validates", () => {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    test(name, () => {
      const grammar = schemaGrammar(schema);
      const validate = ajv.compile(schema as object);
      const seen = new Set<string>();
      for (let seed = 0; seed < 60; seed++) {
        const text = randomWalk(grammar, seed, 40);
        const value: unknown = JSON.parse(text);
        if (!validate(value)) throw new Error(`${text} fails: ${ajv.errorsText(validate.errors)}`);
        expect(text).not.toMatch(/^\s|\s$/);
        seen.add(text);
      }
      // The walks explore: a grammar stuck on one document would pass the check above trivially.
      expect(seen.size).toBeGreaterThan(name === "number ranges" ? 5 : 3);
    });
  }

  test("json_object mode: every walk is an object", () => {
    const grammar = jsonObjectGrammar();
    for (let seed = 0; seed < 60; seed++) {
      const value: unknown = JSON.parse(randomWalk(grammar, seed));
      expect(typeof value === "object" && value !== null && !Array.isArray(value)).toBe(true);
    }
  });
});

describe("schema compiler: exact languages", () => {
  test("properties come in declared order, optional ones may be left out, never extra ones", () => {
    const g = schemaGrammar(SCHEMAS["object with required and optional properties"]);
    expect(generates(g, '{"name":"x","ok":true}')).toBe(true);
    expect(generates(g, '{"name":"x","age":-12,"ok":false,"note":null}')).toBe(true);
    expect(generates(g, '{"ok":true,"name":"x"}')).toBe(false);
    expect(generates(g, '{"name":"x"}')).toBe(false);
    expect(generates(g, '{"name":"x","ok":true,"other":1}')).toBe(false);
    expect(generates(g, '{"name": "x","ok":true}')).toBe(false); // no insignificant whitespace
  });

  test("integer bounds are exact, without leading zeros", () => {
    const g = schemaGrammar({ type: "integer", minimum: -12, maximum: 105 });
    for (let n = -20; n <= 120; n++) expect(generates(g, String(n))).toBe(n >= -12 && n <= 105);
    expect(generates(g, "007")).toBe(false);
    expect(generates(g, "-0")).toBe(false);
  });

  test("string escapes count as one character and lone surrogate escapes are refused", () => {
    const g = schemaGrammar({ type: "string", minLength: 2, maxLength: 2 });
    expect(generates(g, '"\\n\\u00e9"')).toBe(true);
    expect(generates(g, '"ab"')).toBe(true);
    expect(generates(g, '"abc"')).toBe(false);
    expect(generates(g, '"a"')).toBe(false);
    expect(generates(g, '"\\ud800x"')).toBe(false);
  });

  test("pattern characters that JSON must escape are written escaped", () => {
    const g = schemaGrammar({ type: "string", pattern: '^a"b\\\\$' });
    expect(generates(g, '"a\\"b\\\\"')).toBe(true);
    expect(generates(g, '"a"b\\"')).toBe(false);
  });
});

describe("schema compiler: keywords it cannot enforce are refused by name", () => {
  const cases: [unknown, string][] = [
    [{ type: "string", format: "hostname" }, "format"],
    [{ type: "array", uniqueItems: true }, "uniqueItems"],
    [{ oneOf: [{ type: "string" }] }, "oneOf"],
    [{ type: "integer", multipleOf: 3 }, "multipleOf"],
    [{ type: "object", patternProperties: { a: {} } }, "patternProperties"],
    [{ not: { type: "string" } }, "not"],
    [{ type: "string", pattern: "(?=a)b" }, "pattern"],
    [{ type: "string", pattern: "(a)\\1" }, "pattern"],
    [{ type: "number", exclusiveMinimum: 0 }, "exclusiveMinimum"],
    [{ type: "number", minimum: -1, maximum: 1 }, "minimum"],
    [{ type: "object", properties: { a: { $ref: "#/$defs/missing" } } }, "$ref"],
    [{ $ref: "https://example.com/s.json" }, "$ref"],
    [{ allOf: [{ type: "string" }, { maxLength: 2 }] }, "allOf"],
    [{ type: "object", required: ["x"] }, "required"],
    [false, "false"],
    [{ type: "integer", minimum: 5, maximum: 4 }, "minimum"],
    [{ type: "thing" }, "type"],
    [{ $defs: { a: { $ref: "#/$defs/a" } }, $ref: "#/$defs/a" }, "$ref"],
  ];
  for (const [schema, keyword] of cases) {
    test(`${JSON.stringify(schema)} → ${keyword}`, () => {
      let error: unknown;
      try {
        schemaGrammar(schema);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SchemaError);
      expect((error as SchemaError).keyword).toBe(keyword);
      expect((error as SchemaError).message).toContain(keyword);
    });
  }

  test("annotations are accepted", () => {
    expect(() => schemaGrammar({ title: "T", description: "d", $schema: "x", default: 1, examples: [1], type: "integer" })).not.toThrow();
  });
});

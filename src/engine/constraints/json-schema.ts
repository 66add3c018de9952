import { GrammarBuilder, literal, type Element, type Grammar } from "./grammar.ts";
import { JsonGrammar } from "./json-grammar.ts";
import { count, SchemaError, type Schema } from "./schema-error.ts";
import { ScalarSchemas } from "./schema-scalars.ts";

export { SchemaError } from "./schema-error.ts";

const ANNOTATIONS = new Set([
  "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly",
  "$defs", "definitions", "strict", "propertyOrdering", "$anchor",
]);
const KEYWORDS = new Set([
  "type", "properties", "required", "additionalProperties", "enum", "const", "anyOf", "allOf", "items", "prefixItems",
  "minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
  "pattern", "format", "$ref", "nullable", "uniqueItems", "unevaluatedProperties",
]);
/** A finite maxItems above this is generated as if it were this (shorter arrays still satisfy it). */
const ITEMS_CAP = 256;

/**
 * JSON Schema → grammar, in the spirit of llama.cpp's json-schema-to-grammar: every string the grammar generates
 * validates against the schema (the grammar may generate less than the schema allows: properties in declared
 * order, no extra properties, bounded numbers and lengths). A keyword it cannot enforce throws SchemaError.
 */
export class SchemaCompiler {
  readonly json: JsonGrammar;
  private readonly scalars: ScalarSchemas;
  private readonly refs = new Map<string, number>();

  constructor(
    readonly b: GrammarBuilder,
    private readonly root: unknown,
  ) {
    this.json = new JsonGrammar(b);
    this.scalars = new ScalarSchemas(b, this.json);
  }

  value(schema: unknown, path: string): Element[] {
    if (schema === true) return this.json.value();
    if (schema === false) throw new SchemaError("false", path, "the schema 'false' matches nothing");
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
      throw new SchemaError("type", path, "a schema must be an object or a boolean");
    }
    const s = schema as Schema;
    for (const key of Object.keys(s)) {
      if (!KEYWORDS.has(key) && !ANNOTATIONS.has(key)) throw new SchemaError(key, `${path}/${key}`, `'${key}' cannot be enforced`);
    }
    if (s.uniqueItems === true) throw new SchemaError("uniqueItems", `${path}/uniqueItems`, "'uniqueItems' cannot be enforced");
    if (s.unevaluatedProperties !== undefined && s.unevaluatedProperties !== false) {
      throw new SchemaError("unevaluatedProperties", `${path}/unevaluatedProperties`, "only 'unevaluatedProperties: false' can be enforced");
    }
    const constraints = Object.keys(s).filter((k) => KEYWORDS.has(k) && !["uniqueItems", "unevaluatedProperties"].includes(k));
    if (s.nullable === true) {
      const { nullable: _, ...rest } = s;
      return [this.b.ref("nullable", [this.value(rest, path), literal("null")])];
    }
    if (s.$ref !== undefined) {
      const others = constraints.filter((k) => k !== "$ref" && k !== "nullable");
      if (others.length > 0) throw new SchemaError(others[0]!, `${path}/${others[0]}`, "keywords beside '$ref' cannot be enforced");
      return this.ref(s.$ref, `${path}/$ref`);
    }
    if (s.allOf !== undefined) {
      if (!Array.isArray(s.allOf) || s.allOf.length !== 1 || constraints.length > 1) {
        throw new SchemaError("allOf", `${path}/allOf`, "only an 'allOf' of one schema, alone, can be enforced");
      }
      return this.value(s.allOf[0], `${path}/allOf/0`);
    }
    if (s.anyOf !== undefined) {
      if (!Array.isArray(s.anyOf) || s.anyOf.length === 0) throw new SchemaError("anyOf", `${path}/anyOf`, "'anyOf' must list schemas");
      const others = constraints.filter((k) => k !== "anyOf");
      if (others.length > 0) throw new SchemaError(others[0]!, `${path}/${others[0]}`, "keywords beside 'anyOf' cannot be enforced");
      return [this.b.ref("anyOf", s.anyOf.map((branch, i) => this.value(branch, `${path}/anyOf/${i}`)))];
    }
    if (s.const !== undefined) return literal(JSON.stringify(s.const));
    if (s.enum !== undefined) return this.enumeration(s, path);
    const types = this.types(s, path);
    if (types.length === 0) return this.json.value();
    const alternatives = types.map((type) => this.typed(type, s, path));
    return alternatives.length === 1 ? alternatives[0]! : [this.b.ref("types", alternatives)];
  }

  private enumeration(s: Schema, path: string): Element[] {
    if (!Array.isArray(s.enum) || s.enum.length === 0) throw new SchemaError("enum", `${path}/enum`, "'enum' must list values");
    const types = s.type === undefined ? undefined : new Set(Array.isArray(s.type) ? s.type : [s.type]);
    const values = s.enum.filter((v) => !types || types.has(jsonType(v)) || (types.has("number") && jsonType(v) === "integer"));
    if (values.length === 0) throw new SchemaError("enum", `${path}/enum`, "no 'enum' value has the schema's type");
    return [this.b.ref("enum", values.map((v) => literal(JSON.stringify(v))))];
  }

  private types(s: Schema, path: string): string[] {
    if (s.type === undefined) {
      if (s.properties !== undefined || s.additionalProperties !== undefined || s.required !== undefined) return ["object"];
      if (s.items !== undefined || s.prefixItems !== undefined) return ["array"];
      if (s.pattern !== undefined || s.format !== undefined || s.minLength !== undefined || s.maxLength !== undefined) return ["string"];
      if (s.minimum !== undefined || s.maximum !== undefined) return ["number"];
      return [];
    }
    const types = Array.isArray(s.type) ? s.type : [s.type];
    for (const t of types) {
      if (!["object", "array", "string", "integer", "number", "boolean", "null"].includes(t as string)) {
        throw new SchemaError("type", `${path}/type`, `unknown type ${JSON.stringify(t)}`);
      }
    }
    return types as string[];
  }

  private typed(type: string, s: Schema, path: string): Element[] {
    switch (type) {
      case "object":
        return this.object(s, path);
      case "array":
        return this.array(s, path);
      case "string":
        return this.scalars.string(s, path);
      case "integer":
        return this.scalars.integer(s, path);
      case "number":
        return this.scalars.number(s, path);
      case "boolean":
        return [this.b.ref("boolean", [literal("true"), literal("false")])];
      default:
        return literal("null");
    }
  }

  private object(s: Schema, path: string): Element[] {
    const properties = (s.properties ?? {}) as Record<string, unknown>;
    if (typeof properties !== "object" || Array.isArray(properties)) throw new SchemaError("properties", `${path}/properties`, "'properties' must be an object");
    const required = new Set((s.required ?? []) as string[]);
    for (const name of required) {
      if (!(name in properties)) throw new SchemaError("required", `${path}/required`, `required property '${name}' is not in 'properties'`);
    }
    const names = Object.keys(properties);
    const b = this.b;
    if (names.length === 0) {
      if (s.additionalProperties === false) return literal("{}");
      const value = s.additionalProperties === undefined ? this.json.value() : this.value(s.additionalProperties, `${path}/additionalProperties`);
      const member = [...this.json.string(), ...literal(":"), ...value];
      return [b.ref("map", [[...literal("{"), ...b.repeat(member, 0, Infinity, literal(",")), ...literal("}")]])];
    }
    // rest[i][e]: properties i.. given whether one was written already (e = 1: a comma comes first).
    const rest: Element[][][] = [[[], []]];
    for (let i = names.length - 1; i >= 0; i--) {
      const name = names[i]!;
      const member = [...literal(JSON.stringify(name) + ":"), ...this.value(properties[name], `${path}/properties/${escapePointer(name)}`)];
      const after = rest[0]!;
      const make = (e: number): Element[] => {
        const present = [...(e ? literal(",") : []), ...member, ...after[1]!];
        if (required.has(name)) return [b.ref("props", [present])];
        return [b.ref("props", [present, after[e]!])];
      };
      rest.unshift([make(0), make(1)]);
    }
    return [...literal("{"), ...rest[0]![0]!, ...literal("}")];
  }

  private array(s: Schema, path: string): Element[] {
    const min = count(s.minItems, "minItems", path) ?? 0;
    let max = count(s.maxItems, "maxItems", path) ?? Infinity;
    if (max < min) throw new SchemaError("maxItems", `${path}/maxItems`, "'maxItems' is below 'minItems'");
    const b = this.b;
    if (s.prefixItems !== undefined) {
      const prefix = s.prefixItems as unknown[];
      if (!Array.isArray(prefix) || (s.items !== undefined && s.items !== false) || prefix.length < min || prefix.length > max) {
        throw new SchemaError("prefixItems", `${path}/prefixItems`, "only 'prefixItems' with 'items: false' and all items present can be enforced");
      }
      const items = prefix.map((p, i) => [...(i ? literal(",") : []), ...this.value(p, `${path}/prefixItems/${i}`)]);
      return [...literal("["), ...items.flat(), ...literal("]")];
    }
    if (s.items === false) max = 0;
    if (max !== Infinity) max = Math.min(max, Math.max(min, ITEMS_CAP));
    const item = s.items === undefined || s.items === false ? this.json.value() : this.value(s.items, `${path}/items`);
    return [b.ref("array", [[...literal("["), ...b.repeat(item, min, max, literal(",")), ...literal("]")]])];
  }

  private ref(ref: unknown, path: string): Element[] {
    if (typeof ref !== "string" || !ref.startsWith("#")) throw new SchemaError("$ref", path, "only local '$ref's (#/…) can be resolved");
    let rule = this.refs.get(ref);
    if (rule === undefined) {
      let target: unknown = this.root;
      for (const part of ref.slice(1).split("/").filter(Boolean)) {
        const key = decodeURIComponent(part).replaceAll("~1", "/").replaceAll("~0", "~");
        target = typeof target === "object" && target !== null ? (target as Schema)[key] : undefined;
        if (target === undefined) throw new SchemaError("$ref", path, `'${ref}' does not resolve`);
      }
      rule = this.b.declare(`ref ${ref}`);
      this.refs.set(ref, rule);
      this.b.define(rule, [this.value(target, ref.slice(1))]);
    }
    return [{ kind: "rule", rule }];
  }
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function escapePointer(name: string): string {
  return name.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** The grammar of JSON documents that validate against `schema`. */
export function schemaGrammar(schema: unknown): Grammar {
  const b = new GrammarBuilder();
  const compiler = new SchemaCompiler(b, schema);
  const root = compiler.value(schema, "");
  try {
    return b.build(root);
  } catch (error) {
    throw new SchemaError("$ref", "", error instanceof Error ? error.message : String(error));
  }
}

/** The grammar of any JSON object (`json_object` mode). */
export function jsonObjectGrammar(): Grammar {
  const b = new GrammarBuilder();
  return b.build(new JsonGrammar(b).object());
}

import { describe, expect, test } from "bun:test";
import Ajv2020 from "ajv/dist/2020";
import type { ToolSet } from "../../../src/engine/constraints/structured-request.ts";
import { ConstraintSourceError, outputGrammar, toolCallText } from "../../../src/engine/constraints/tool-call-grammar.ts";
import { ToolCallParser, type ToolCallPiece } from "../../../src/engine/constraints/tool-call-parser.ts";
import { randomWalk } from "./random-walk.ts";

const ajv = new Ajv2020({ strict: false });
const WEATHER = {
  name: "get_weather",
  description: "Weather for a city",
  parameters: { type: "object", properties: { city: { type: "string", maxLength: 6 }, unit: { enum: ["c", "f"] } }, required: ["city"], additionalProperties: false },
};
const TIME = { name: "get_time", parameters: { type: "object", properties: { tz: { type: "integer", minimum: -12, maximum: 12 } }, required: ["tz"] } };
const TOOLS = [WEATHER, TIME];

interface Call {
  name: string;
  arguments: string;
}

/** Feeds text to a parser in chunks of `size` characters and reassembles text and calls. */
function parse(text: string, size: number): { text: string; calls: Call[] } {
  const parser = new ToolCallParser();
  const pieces: ToolCallPiece[] = [];
  const chars = [...text];
  for (let i = 0; i < chars.length; i += size) pieces.push(...parser.push(chars.slice(i, i + size).join("")));
  const calls: Call[] = [];
  let plain = "";
  for (const p of pieces) {
    if (p.kind === "text") plain += p.text;
    else if (p.kind === "call") calls[p.call] = { name: p.name, arguments: "" };
    else calls[p.call]!.arguments += p.text;
  }
  expect(parser.callCount).toBe(calls.length);
  return { text: plain, calls };
}

function check(call: Call): void {
  const tool = TOOLS.find((t) => t.name === call.name)!;
  expect(tool).toBeDefined();
  const validate = ajv.compile(tool.parameters);
  const args: unknown = JSON.parse(call.arguments);
  if (!validate(args)) throw new Error(`${call.arguments} fails: ${ajv.errorsText(validate.errors)}`);
}

describe("tool-call grammar and parser", () => {
  test("required: every walk is one or more calls to the tools, with valid arguments, split the same in any chunking", () => {
    const grammar = outputGrammar({ type: "text" }, { tools: TOOLS, choice: { type: "required" }, parallel: true })!;
    const counts = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const text = randomWalk(grammar, seed, 120);
      const whole = parse(text, 1000);
      expect(whole.text).toBe("");
      expect(whole.calls.length).toBeGreaterThan(0);
      whole.calls.forEach(check);
      counts.add(whole.calls.length);
      expect(whole.calls.map((c) => toolCallText(c.name, c.arguments)).join("\n")).toBe(text);
      for (const size of [1, 3, 7]) expect(parse(text, size)).toEqual(whole);
    }
    expect(counts.size).toBeGreaterThan(1);
  });

  test("a named tool: exactly one call to it", () => {
    const grammar = outputGrammar({ type: "text" }, { tools: TOOLS, choice: { type: "tool", name: "get_time" }, parallel: true })!;
    for (let seed = 0; seed < 20; seed++) {
      const { calls } = parse(randomWalk(grammar, seed, 200), 2);
      expect(calls.map((c) => c.name)).toEqual(["get_time"]);
      check(calls[0]!);
    }
  });

  test("parallel_tool_calls false: one call at most", () => {
    const grammar = outputGrammar({ type: "text" }, { tools: TOOLS, choice: { type: "required" }, parallel: false })!;
    for (let seed = 0; seed < 20; seed++) expect(parse(randomWalk(grammar, seed, 200), 4).calls.length).toBe(1);
  });

  test("auto: either free text that does not start with '<', or calls", () => {
    const tools: ToolSet = { tools: TOOLS, choice: { type: "auto" }, parallel: true };
    const grammar = outputGrammar({ type: "text" }, tools)!;
    const kinds = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const text = randomWalk(grammar, seed, 60);
      const result = parse(text, 5);
      if (result.calls.length > 0) {
        expect(result.text).toBe("");
        result.calls.forEach(check);
        kinds.add("calls");
      } else {
        expect(result.text).toBe(text);
        expect(text.startsWith("<")).toBe(false);
        kinds.add("text");
      }
    }
    expect([...kinds].sort()).toEqual(["calls", "text"]);
  });

  test("auto with a JSON schema format: the answer validates when it is not a call", () => {
    const schema = { type: "object", properties: { x: { type: "boolean" } }, required: ["x"] };
    const grammar = outputGrammar({ type: "json-schema", schema }, { tools: TOOLS, choice: { type: "auto" }, parallel: true })!;
    for (let seed = 0; seed < 30; seed++) {
      const text = randomWalk(grammar, seed, 80);
      const result = parse(text, 3);
      if (result.calls.length === 0) expect(typeof (JSON.parse(result.text) as { x: boolean }).x).toBe("boolean");
    }
  });

  test("none: only the format applies; text with no format is unconstrained", () => {
    expect(outputGrammar({ type: "text" }, { tools: TOOLS, choice: { type: "none" }, parallel: true })).toBeUndefined();
    expect(outputGrammar({ type: "json-object" }, { tools: TOOLS, choice: { type: "none" }, parallel: true })).toBeDefined();
  });

  test("a tool whose parameters cannot be enforced is named by index", () => {
    let error: unknown;
    try {
      outputGrammar({ type: "text" }, { tools: [WEATHER, { name: "bad", parameters: { type: "object", properties: { a: { type: "string", format: "ipv4" } } } }], choice: { type: "auto" }, parallel: true });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConstraintSourceError);
    expect((error as ConstraintSourceError).toolIndex).toBe(1);
    expect((error as ConstraintSourceError).error.keyword).toBe("format");
  });
});

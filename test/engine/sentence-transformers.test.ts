import { afterAll, describe, expect, it } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modulesJson, poolingConfig } from "../../scripts/fixtures/encoders.ts";
import { UnsupportedFormatError } from "../../src/engine/errors.ts";
import { poolingFromConfig, readSentenceTransformers } from "../../src/engine/sentence-transformers.ts";

const root = mkdtempSync(join(tmpdir(), "gpt3dev-st-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let count = 0;
/** A model folder holding the given files (path → JSON value). */
function folder(files: Record<string, unknown>): string {
  const dir = join(root, String(count++));
  for (const [path, value] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), JSON.stringify(value));
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UnsupportedFormatError);
    return (error as Error).message;
  }
  throw new Error("expected a refusal");
}

describe("poolingFromConfig", () => {
  it("names each mode sentence-transformers' Pooling config can switch on alone", () => {
    for (const mode of ["mean", "cls", "max", "lasttoken", "mean_sqrt_len", "weightedmean"] as const) expect(poolingFromConfig(poolingConfig(8, mode))).toBe(mode);
  });

  it("refuses modes it does not apply, several at once, or none, naming them", () => {
    expect(refusal(() => poolingFromConfig({ ...poolingConfig(8, "mean"), pooling_mode_mean_tokens: false, pooling_mode_attention: true }))).toBe(
      "the sentence-transformers Pooling config asks for pooling_mode_attention, which gpt3dev does not apply",
    );
    expect(refusal(() => poolingFromConfig({ ...poolingConfig(8, "mean"), pooling_mode_max_tokens: true }))).toBe(
      "the sentence-transformers Pooling config sets several pooling modes at once (pooling_mode_mean_tokens, pooling_mode_max_tokens), whose vectors it concatenates; gpt3dev applies exactly one",
    );
    expect(refusal(() => poolingFromConfig({ word_embedding_dimension: 8 }))).toContain("sets no pooling mode");
  });
});

describe("readSentenceTransformers", () => {
  it("reads the pooling from the module modules.json names and normalises only with a Normalize module", () => {
    expect(readSentenceTransformers(folder({ "modules.json": modulesJson(true), "1_Pooling/config.json": poolingConfig(8, "cls") }))).toEqual({ pooling: "cls", normalize: true });
    expect(readSentenceTransformers(folder({ "modules.json": modulesJson(false), "1_Pooling/config.json": poolingConfig(8, "max") }))).toEqual({ pooling: "max", normalize: false });
    const elsewhere = [{ idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" }, { idx: 1, name: "1", path: "pool", type: "sentence_transformers.models.Pooling" }];
    expect(readSentenceTransformers(folder({ "modules.json": elsewhere, "pool/config.json": poolingConfig(8, "lasttoken") }))).toEqual({ pooling: "lasttoken", normalize: false });
  });

  it("says nothing for a plain folder and reads a lone 1_Pooling config", () => {
    expect(readSentenceTransformers(folder({}))).toEqual({});
    expect(readSentenceTransformers(folder({ "1_Pooling/config.json": poolingConfig(8, "cls") }))).toEqual({ pooling: "cls" });
  });

  it("refuses modules it cannot apply and a Pooling module without its config", () => {
    const dense = [...modulesJson(true), { idx: 3, name: "3", path: "3_Dense", type: "sentence_transformers.models.Dense" }];
    expect(refusal(() => readSentenceTransformers(folder({ "modules.json": dense, "1_Pooling/config.json": poolingConfig(8, "mean") })))).toBe(
      "modules.json has modules gpt3dev does not apply after the encoder: Dense",
    );
    expect(refusal(() => readSentenceTransformers(folder({ "modules.json": modulesJson(false) })))).toBe(
      "modules.json names a Pooling module but 1_Pooling/config.json is missing",
    );
  });
});

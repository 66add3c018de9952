// system_fingerprint covers everything that can change a seeded result: the model and the versions of the code that
// runs it, the libraries that turn text into token ids included. The versions are read here from the packages' own
// files, apart from src/runtime/versions.ts.
import { describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { systemFingerprint } from "../../src/engine/fingerprint.ts";

const ROOT = join(import.meta.dir, "..", "..");
const version = (dir: string) => (JSON.parse(readFileSync(join(ROOT, dir, "package.json"), "utf8")) as { version: string }).version;

describe("system_fingerprint", () => {
  it("hashes the model id, its dtype and the versions of gpt3dev, ONNX Runtime, transformers.js and the tokenizer libraries", () => {
    const parts = [
      "tiny-gpt2",
      "fp32",
      version("."),
      version("node_modules/onnxruntime-node"),
      version("node_modules/@huggingface/transformers"),
      [
        `@huggingface/tokenizers@${version("node_modules/@huggingface/tokenizers")}`,
        `@huggingface/jinja@${version("node_modules/@huggingface/jinja")}`,
        `gpt-tokenizer@${version("node_modules/gpt-tokenizer")}`,
      ].join(" "),
    ];
    const expected = `fp_${createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 12)}`;
    expect(systemFingerprint({ id: "tiny-gpt2", dtype: "fp32" })).toBe(expected);
    expect(systemFingerprint({ id: "tiny-gpt2", dtype: "q8" })).not.toBe(expected);
  });
});

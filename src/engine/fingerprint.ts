import { createHash } from "node:crypto";
import { gpt3devVersion, ortVersion, tokenizerVersions, transformersVersion } from "../runtime/versions.ts";
import type { ModelSpec } from "./registry.ts";

/**
 * OpenAI's `system_fingerprint`: it changes whenever something that can change a seeded result changes here, that is
 * the model (id and the weights file's dtype) or the code that runs it (the versions of gpt3dev, ONNX Runtime,
 * transformers.js and the tokenizer libraries).
 */
export function systemFingerprint(spec: Pick<ModelSpec, "id" | "dtype">): string {
  const parts = [spec.id, spec.dtype, gpt3devVersion, ortVersion, transformersVersion, tokenizerVersions];
  return `fp_${createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 12)}`;
}

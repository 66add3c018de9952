import { createHash } from "node:crypto";
import { gpt3devVersion, ortVersion, transformersVersion } from "../runtime/versions.ts";
import type { ModelSpec } from "./registry.ts";

/**
 * OpenAI's `system_fingerprint`: it changes whenever something that can change a seeded result changes here, that is
 * the model (id and the weights file's dtype) or the code that runs it (gpt3dev, ONNX Runtime and transformers.js
 * versions).
 */
export function systemFingerprint(spec: Pick<ModelSpec, "id" | "dtype">): string {
  const parts = [spec.id, spec.dtype, gpt3devVersion, ortVersion, transformersVersion];
  return `fp_${createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 12)}`;
}

/**
 * The one place the app imports @huggingface/transformers from: speech models (src/runtime/speech-models.ts). Text
 * models, embedders and classifiers read their tokenizers without it (src/runtime/model-tokenizer.ts).
 *
 * Configured for offline use with local folders only: no Hub downloads, no
 * cache writes. Model folders are passed as absolute paths.
 *
 * transformers.js must run on the same onnxruntime-node instance as
 * src/runtime/onnx.ts (one native binding, one ORT environment). From source
 * both resolve to the same node_modules file; in the compiled executable the
 * build plugin turns transformers.js' run-time `createRequire` lookup into a
 * static import of the bundled module. The check below fails fast otherwise.
 */
import { ort } from "./onnx.ts";
import { env } from "@huggingface/transformers";

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useFSCache = false;
env.useBrowserCache = false;
env.useWasmCache = false;
env.useCustomCache = false;
env.cacheDir = null;

// transformers.js keeps a shallow copy of the ORT `env` it loaded; its nested
// objects are shared, so compare one of them.
const transformersOrtEnv = env.backends.onnx as { versions?: unknown };
if (transformersOrtEnv.versions !== ort.env.versions) {
  throw new Error(
    "@huggingface/transformers loaded a different onnxruntime-node instance than src/runtime/onnx.ts",
  );
}

// Speech models use these through this module, so the checks above always ran first.
export { AutoModel, AutoProcessor, AutoTokenizer, Tensor, WhisperForConditionalGeneration } from "@huggingface/transformers";

/** The @huggingface/transformers version. */
export const transformersVersion: string = env.version;

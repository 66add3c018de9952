/**
 * The one place the app imports @huggingface/transformers from.
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
import { isAbsolute } from "node:path";
import { compactMergeRanks } from "./bpe-merge-ranks.ts";
import { ort } from "./onnx.ts";
import { AutoTokenizer, env, type PreTrainedTokenizer } from "@huggingface/transformers";

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

export type { PreTrainedTokenizer };
// Speech models (src/runtime/speech-models.ts) use these through this module, so the checks above always ran first.
export { AutoModel, AutoProcessor, AutoTokenizer, Tensor, WhisperForConditionalGeneration } from "@huggingface/transformers";

/** The @huggingface/transformers version. */
export const transformersVersion: string = env.version;

/**
 * Load `tokenizer.json` + `tokenizer_config.json` from a local model folder, without the tables only its build reads
 * and with BPE merge ranks kept by token ids (GPT-2's 50,257-token tokenizer: 29 MiB as the library builds it, 12 MiB
 * loaded here; same encoding).
 */
export async function loadTokenizer(absModelDir: string): Promise<PreTrainedTokenizer> {
  if (!isAbsolute(absModelDir)) {
    throw new Error(`loadTokenizer needs an absolute folder path, got "${absModelDir}"`);
  }
  const tokenizer = releaseBuildTables(await AutoTokenizer.from_pretrained(absModelDir, { local_files_only: true }));
  compactMergeRanks(tokenizerModel(tokenizer));
  return tokenizer;
}

/** The tokenization model (BPE, WordPiece, ...) inside a transformers.js tokenizer, if it has the usual shape. */
export function tokenizerModel(tokenizer: PreTrainedTokenizer): unknown {
  return (tokenizer as unknown as { _tokenizer?: { model?: unknown } })._tokenizer?.model;
}

/** The fields of a transformers.js BPE model read only while it is built (its constructor). */
interface BpeModelBuildState {
  constructor?: { name?: string };
  bpe_ranks?: unknown;
  merges?: unknown;
  config?: { merges?: unknown; vocab?: unknown };
}

/**
 * Lets go of what a BPE tokenizer needs only while it is built: the parsed `merges` list (and its split copy) and the
 * vocabulary object of tokenizer.json, from which transformers.js has already made the maps it encodes and decodes
 * with (`bpe_ranks`, `tokens_to_ids`, `vocab`). For GPT-2's 50,257 tokens this is 10 MiB of the 30 a loaded
 * tokenizer holds; encoding, decoding and the vocabulary are unchanged (test/runtime/tokenizer-tables.test.ts).
 */
export function releaseBuildTables(tokenizer: PreTrainedTokenizer): PreTrainedTokenizer {
  const model = tokenizerModel(tokenizer) as BpeModelBuildState | undefined;
  if (!model || !(model.bpe_ranks instanceof Map) || !Array.isArray(model.merges)) return tokenizer;
  delete model.merges;
  if (model.config) {
    delete model.config.merges;
    delete model.config.vocab;
  }
  return tokenizer;
}

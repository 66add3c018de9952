/**
 * Versions of the inference libraries, read from their package.json files: printing them (--version) loads neither
 * library, so the HTTP thread never loads ONNX Runtime or transformers.js at all (the engine worker does).
 */
import ortPackage from "onnxruntime-node/package.json" with { type: "json" };
import transformersPackage from "@huggingface/transformers/package.json" with { type: "json" };
import tokenizersPackage from "@huggingface/tokenizers/package.json" with { type: "json" };
import jinjaPackage from "@huggingface/jinja/package.json" with { type: "json" };
import gptTokenizerPackage from "gpt-tokenizer/package.json" with { type: "json" };

import gpt3devPackage from "../../package.json" with { type: "json" };

export const gpt3devVersion: string = gpt3devPackage.version;
export const ortVersion: string = ortPackage.version;
export const transformersVersion: string = transformersPackage.version;
/** What turns text into token ids and renders chat templates (src/runtime/model-tokenizer.ts, OpenAI encodings). */
export const tokenizerVersions: string = [
  `@huggingface/tokenizers@${tokenizersPackage.version}`,
  `@huggingface/jinja@${jinjaPackage.version}`,
  `gpt-tokenizer@${gptTokenizerPackage.version}`,
].join(" ");

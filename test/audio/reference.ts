/**
 * What transformers.js itself answers on the same model folder and audio, to compare the server with: its
 * automatic-speech-recognition and text-to-speech pipelines, and Whisper's language token read straight off the model.
 */
import { dirname, join } from "node:path";
import { AutoProcessor, AutoTokenizer, env, pipeline, Tensor, WhisperForConditionalGeneration } from "@huggingface/transformers";
import { BINARY_PATH, REPO_ROOT, type ServerMode } from "../e2e/harness.ts";

env.allowRemoteModels = false;
env.allowLocalModels = true;

/** The model folder the server of this mode reads (the binary has its own copy beside it). */
export const modelDir = (mode: ServerMode, id: string) => join(mode === "binary" ? dirname(BINARY_PATH) : REPO_ROOT, "models", id);

export interface ReferenceAsr {
  text: string;
  chunks?: Array<{ timestamp: [number | null, number | null]; text: string }>;
}

type Asr = (audio: Float32Array, options: Record<string, unknown>) => Promise<ReferenceAsr>;
type Tts = (text: string) => Promise<{ audio: Float32Array; sampling_rate: number }>;

export async function referenceAsr(dir: string): Promise<Asr> {
  return (await pipeline("automatic-speech-recognition", dir, { local_files_only: true, dtype: "fp32" })) as unknown as Asr;
}

export async function referenceTts(dir: string): Promise<Tts> {
  return (await pipeline("text-to-speech", dir, { local_files_only: true, dtype: "fp32" })) as unknown as Tts;
}

/** Whisper's language identification done by hand: the largest language-token logit after <|startoftranscript|>. */
export async function mostLikelyLanguage(dir: string, samples: Float32Array): Promise<string> {
  const processor = (await AutoProcessor.from_pretrained(dir, { local_files_only: true })) as unknown as (a: Float32Array) => Promise<{ input_features: Tensor }>;
  const model = (await WhisperForConditionalGeneration.from_pretrained(dir, { local_files_only: true, dtype: "fp32" })) as unknown as {
    generation_config: { decoder_start_token_id: number; lang_to_id: Record<string, number> };
    (inputs: Record<string, Tensor>): Promise<{ logits: Tensor }>;
    dispose(): Promise<void>;
  };
  const { input_features } = await processor(samples);
  const start = model.generation_config.decoder_start_token_id;
  const { logits } = await model({ input_features, decoder_input_ids: new Tensor("int64", BigInt64Array.from([BigInt(start)]), [1, 1]) });
  const data = logits.data as Float32Array;
  const [token] = Object.entries(model.generation_config.lang_to_id).sort((a, b) => data[b[1]]! - data[a[1]]!)[0]!;
  await model.dispose();
  return token.slice(2, -2);
}

/**
 * Whisper's previous-text prompt done by hand with transformers.js's generate(): <|startofprev|>, the prompt's
 * tokens, then <|startoftranscript|><|en|><|transcribe|><|notimestamps|>; the text is what follows, special tokens skipped.
 */
export async function promptedTranscript(dir: string, samples: Float32Array, prompt: string): Promise<string> {
  const processor = (await AutoProcessor.from_pretrained(dir, { local_files_only: true })) as unknown as (a: Float32Array) => Promise<{ input_features: Tensor }>;
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const model = (await WhisperForConditionalGeneration.from_pretrained(dir, { local_files_only: true, dtype: "fp32" })) as unknown as {
    generate(options: Record<string, unknown>): Promise<Tensor>;
    dispose(): Promise<void>;
  };
  const id = (token: string) => tokenizer.convert_tokens_to_ids(token) as number;
  const prefix = [id("<|startofprev|>"), ...tokenizer.encode(` ${prompt}`, { add_special_tokens: false }), id("<|startoftranscript|>"), id("<|en|>"), id("<|transcribe|>"), id("<|notimestamps|>")];
  const { input_features } = await processor(samples);
  const output = await model.generate({ inputs: input_features, decoder_input_ids: prefix });
  const generated = (output.tolist() as bigint[][])[0]!.map(Number).slice(prefix.length);
  await model.dispose();
  return tokenizer.decode(generated, { skip_special_tokens: true }).trim();
}

/** Float samples → 16-bit little-endian PCM, rounding x · 32767 after clipping (what the server promises). */
export function toPcm16(samples: Float32Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  samples.forEach((x, i) => view.setInt16(i * 2, Math.round(Math.max(-1, Math.min(1, x)) * 32767), true));
  return out;
}

/** hh:mm:ss,mmm (SubRip) or hh:mm:ss.mmm (WebVTT). */
export function timecode(seconds: number, separator: string): string {
  const ms = Math.round(seconds * 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(Math.floor(ms / 3600000))}:${two(Math.floor(ms / 60000) % 60)}:${two(Math.floor(ms / 1000) % 60)}${separator}${String(ms % 1000).padStart(3, "0")}`;
}

/**
 * transformers.js's speech models behind small typed interfaces: Whisper (feature extractor, encoder-decoder
 * generation, its tokenizer's chunk merging) and text-to-waveform models (VITS / MMS-TTS). The engine
 * (src/engine/transcriber.ts, src/engine/speech-synthesizer.ts) decides what to ask; this file only calls the library.
 */
import { isAbsolute } from "node:path";
import { sessionOptions, type SessionSettings } from "./session.ts";
import { AutoModel, AutoProcessor, AutoTokenizer, Tensor, WhisperForConditionalGeneration } from "./transformers.ts";

/** A window of audio's log-mel features, opaque to the engine. */
export interface AudioFeatures {
  readonly frames: number;
  readonly tensor: unknown;
}

/** A 30-second window's tokens and where it overlaps its neighbours (seconds), as Whisper's chunk merging takes it. */
export interface AsrChunk {
  tokens: number[];
  /** Word timestamps only: each token's time in seconds (from the cross-attention alignment). */
  tokenTimestamps?: number[];
  /** [window length, left overlap, right overlap] in seconds. */
  stride: [number, number, number];
}

export interface AsrText {
  text: string;
  /** With timestamps: the text between timestamp pairs; an end may be null when the model never closed a segment. */
  chunks: Array<{ start: number | null; end: number | null; text: string }>;
}

export interface WhisperFacts {
  samplingRate: number;
  /** Samples per mel frame. */
  hopLength: number;
  /** Seconds per timestamp token (0.02 for 30-s windows over 1500 encoder positions). */
  timePrecision: number;
  maxTargetPositions: number;
  maxLength: number;
  langToId: Record<string, number>;
  taskToId: Record<string, number>;
  startOfTranscript: number;
  startOfPrev: number | undefined;
  noTimestamps: number | undefined;
  /** The export has cross-attention outputs and the config alignment heads: word timestamps can be computed. */
  wordTimestamps: boolean;
}

export interface Generated {
  /** Tokens after the prompt and start tokens, the end token included when the model produced it. */
  tokens: number[];
  /** With word timestamps: each of those tokens' time in seconds, rounded to 10 ms as transformers.js's pipeline does. */
  tokenTimestamps?: number[];
}

export interface WhisperRuntime {
  facts: WhisperFacts;
  features(samples: Float32Array): Promise<AudioFeatures>;
  generate(features: AudioFeatures, options: { initTokens: number[]; timestamps: "none" | "segment" | "word"; temperature: number; numFrames: number }): Promise<Generated>;
  /** Logits of the first token after `prefix` (language detection reads them after <|startoftranscript|>). */
  nextLogits(features: AudioFeatures, prefix: number[]): Promise<Float32Array>;
  /** Merges the windows' tokens into text; with timestamps, into segments, or with "word" into words. */
  mergeChunks(chunks: AsrChunk[], timestamps: "none" | "segment" | "word"): AsrText;
  encodeText(text: string): number[];
  dispose(): Promise<void>;
}

function checkDir(dir: string): void {
  if (!isAbsolute(dir)) throw new Error(`model folders are opened by absolute path, got "${dir}"`);
}

// transformers.js's Whisper and VITS classes are typed loosely (JSDoc); the interfaces above are what this file promises.
type Loose = any;

export async function loadWhisper(dir: string, dtype: string, settings: SessionSettings): Promise<WhisperRuntime> {
  checkDir(dir);
  const options = { local_files_only: true, dtype: dtype as Loose, device: "cpu" as const, session_options: sessionOptions(settings) as Loose };
  const [model, processor, tokenizer] = (await Promise.all([
    WhisperForConditionalGeneration.from_pretrained(dir, options),
    AutoProcessor.from_pretrained(dir, { local_files_only: true }),
    AutoTokenizer.from_pretrained(dir, { local_files_only: true }),
  ])) as [Loose, Loose, Loose];
  const extractor = processor.feature_extractor.config;
  const gen = model.generation_config;
  const facts: WhisperFacts = {
    samplingRate: extractor.sampling_rate,
    hopLength: extractor.hop_length,
    timePrecision: extractor.chunk_length / model.config.max_source_positions,
    maxTargetPositions: model.config.max_target_positions,
    maxLength: gen.max_length ?? model.config.max_target_positions,
    langToId: gen.lang_to_id ?? {},
    taskToId: gen.task_to_id ?? {},
    startOfTranscript: gen.decoder_start_token_id,
    startOfPrev: gen.prev_sot_token_id ?? tokenizer.model.tokens_to_ids?.get("<|startofprev|>"),
    noTimestamps: gen.no_timestamps_token_id ?? undefined,
    wordTimestamps:
      Array.isArray(gen.alignment_heads) && (model.sessions.decoder_model_merged.outputNames as string[]).some((name) => name.startsWith("cross_attentions")),
  };
  const tensorOf = (features: AudioFeatures) => features.tensor as Tensor;
  return {
    facts,
    async features(samples) {
      const { input_features } = (await processor(samples)) as { input_features: Tensor };
      return { frames: Math.floor(samples.length / facts.hopLength), tensor: input_features };
    },
    async generate(features, { initTokens, timestamps, temperature, numFrames }) {
      const output = (await model.generate({
        inputs: tensorOf(features),
        decoder_input_ids: initTokens,
        return_timestamps: timestamps !== "none",
        return_token_timestamps: timestamps === "word",
        num_frames: numFrames,
        ...(temperature > 0 ? { do_sample: true, temperature } : { do_sample: false }),
      })) as Tensor | { sequences: Tensor; token_timestamps: Tensor };
      const sequence = "sequences" in output ? output.sequences : output;
      const tokens = (sequence.tolist() as bigint[][])[0]!.map(Number).slice(initTokens.length);
      if (!("token_timestamps" in output)) return { tokens };
      const times = (output.token_timestamps.tolist() as number[][])[0]!.slice(initTokens.length);
      return { tokens, tokenTimestamps: times.map((t) => Math.round(t * 100) / 100) };
    },
    async nextLogits(features, prefix) {
      const ids = new Tensor("int64", BigInt64Array.from(prefix, BigInt), [1, prefix.length]);
      const { logits } = (await model({ input_features: tensorOf(features), decoder_input_ids: ids })) as { logits: Tensor };
      const vocab = logits.dims.at(-1)!;
      return (logits.data as Float32Array).slice(logits.data.length - vocab);
    },
    mergeChunks(chunks, timestamps) {
      const [text, optional] = tokenizer._decode_asr(
        chunks.map((c) => ({ tokens: c.tokens.map(BigInt), token_timestamps: c.tokenTimestamps, stride: c.stride })),
        { time_precision: facts.timePrecision, return_timestamps: timestamps === "word" ? "word" : timestamps === "segment", force_full_sequences: false },
      ) as [string, { chunks?: Array<{ timestamp: [number | null, number | null]; text: string }> }];
      return { text, chunks: (optional?.chunks ?? []).map((c) => ({ start: c.timestamp[0], end: c.timestamp[1], text: c.text })) };
    },
    encodeText(text) {
      return tokenizer.encode(text, { add_special_tokens: false }) as number[];
    },
    async dispose() {
      await model.dispose();
    },
  };
}

export interface TextToWaveformRuntime {
  samplingRate: number;
  /** The waveform for one text, at `samplingRate`. */
  synthesize(text: string): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export async function loadTextToWaveform(dir: string, dtype: string, settings: SessionSettings): Promise<TextToWaveformRuntime> {
  checkDir(dir);
  const options = { local_files_only: true, dtype: dtype as Loose, device: "cpu" as const, session_options: sessionOptions(settings) as Loose };
  const [model, tokenizer] = (await Promise.all([AutoModel.from_pretrained(dir, options), AutoTokenizer.from_pretrained(dir, { local_files_only: true })])) as [Loose, Loose];
  const samplingRate = model.config.sampling_rate as number;
  if (typeof samplingRate !== "number") throw new Error("config.json has no sampling_rate");
  return {
    samplingRate,
    async synthesize(text) {
      const inputs = tokenizer(text);
      const { waveform } = (await model(inputs)) as { waveform: Tensor };
      return waveform.data as Float32Array;
    },
    async dispose() {
      await model.dispose();
    },
  };
}

import { deflateSync } from "node:zlib";
import type { AsrChunk, AudioFeatures, WhisperRuntime } from "../runtime/speech-models.ts";
import type { SessionSettings } from "../runtime/session.ts";
import { decodeAudio } from "./audio-decode.ts";
import { InvalidInputError } from "./errors.ts";
import type { ModelSpec } from "./registry.ts";
import { SpeechModelBase } from "./speech-model-base.ts";
import { WHISPER_LANGUAGES } from "./whisper-languages.ts";

/** A transcription or translation in engine terms; `audio` is the uploaded file, still encoded. */
export interface TranscriptionRequest {
  model: string;
  audio: Uint8Array;
  task: "transcribe" | "translate";
  /** ISO 639-1 code or English name; unset: detected from the first 30 seconds. */
  language?: string;
  /** Text that came before, to steer spelling and style (Whisper's previous-text prompt). */
  prompt?: string;
  /** 0: greedy decoding; above: sampling at this temperature. */
  temperature?: number;
  /** Segment timestamps wanted. */
  timestamps?: boolean;
  /** Word timestamps wanted too (needs an export with cross-attention outputs). */
  words?: boolean;
}

export interface TranscriptWord {
  word: string;
  start: number;
  end: number;
}

export interface TranscriptSegment {
  id: number;
  /** Where the segment's 30-second window starts, in mel frames (Whisper's `seek`). */
  seek: number;
  start: number;
  end: number;
  text: string;
  /** Bytes of the text over bytes of its zlib compression, as Whisper reports it (repetitive text scores high). */
  compressionRatio: number;
}

export interface Transcript {
  text: string;
  /** The spoken language's English name, lowercase ("english"); for a translation, the output's (always english). */
  language: string;
  /** Seconds of audio in the file. */
  duration: number;
  /** With timestamps only. */
  segments: TranscriptSegment[];
  /** With word timestamps only. */
  words?: TranscriptWord[];
}

export interface TranscriptionResult extends Transcript {
  modelId: string;
}

const WINDOW_SECONDS = 30;
// Overlap on each side of a window, as transformers.js's pipeline defaults it (chunk_length_s / 6).
const STRIDE_SECONDS = 5;
const NAME_OF = new Map(WHISPER_LANGUAGES);
const CODE_OF = new Map(WHISPER_LANGUAGES.map(([code, name]) => [name, code]));

interface Window {
  samples: Float32Array;
  /** Seconds: [window length, overlap with the previous window, overlap with the next]. */
  stride: [number, number, number];
  offsetSamples: number;
}

/** A loaded Whisper model: audio in, text out. Long audio runs as 30-second windows overlapping by 5 s on each side. */
export class SpeechRecognitionModel extends SpeechModelBase<WhisperRuntime> {
  readonly kind = "speech-recognition" as const;

  static async load(spec: ModelSpec, settings: SessionSettings = {}): Promise<SpeechRecognitionModel> {
    // transformers.js (about 15 MiB a worker) is loaded with the first speech model, not with the worker.
    const { loadWhisper } = await import("../runtime/speech-models.ts");
    return new SpeechRecognitionModel(spec, await loadWhisper(spec.dir, spec.dtype, settings));
  }

  /** Languages this model knows, as ISO 639-1 codes (empty for an English-only model). */
  get languages(): string[] {
    return Object.keys(this.runtime.facts.langToId).map((token) => token.slice(2, -2));
  }

  async transcribe(request: Omit<TranscriptionRequest, "model">): Promise<Transcript> {
    const facts = this.runtime.facts;
    const multilingual = Object.keys(facts.langToId).length > 0;
    let language = request.language === undefined ? undefined : this.languageCode(request.language);
    if (!multilingual && request.task === "translate") {
      throw new InvalidInputError("this model is English-only and does not translate", "model");
    }
    if (request.words && !facts.wordTimestamps) {
      throw new InvalidInputError(
        "word timestamps need a Whisper export with cross-attention outputs and alignment_heads in generation_config.json (the '_timestamped' onnx-community exports); this model has none",
        "words",
      );
    }
    const audio = await decodeAudio(request.audio, facts.samplingRate);
    const windows = splitWindows(audio.samples, facts.samplingRate);
    const words = request.words === true;
    const timestamps = request.timestamps === true || words;

    const features: AudioFeatures[] = [];
    for (const window of windows) features.push(await this.runtime.features(window.samples));
    const start = [facts.startOfTranscript];
    if (multilingual) {
      language ??= await this.detectLanguage(features[0]!);
      start.push(facts.langToId[`<|${language}|>`]!, facts.taskToId[request.task]!);
    }
    if (!timestamps && facts.noTimestamps !== undefined) start.push(facts.noTimestamps);
    const initTokens = [...this.promptTokens(request.prompt), ...start];

    const chunks: AsrChunk[] = [];
    const wordChunks: AsrChunk[] = [];
    for (const [i, window] of windows.entries()) {
      const generated = await this.runtime.generate(features[i]!, {
        initTokens,
        timestamps: words ? "word" : timestamps ? "segment" : "none",
        temperature: request.temperature ?? 0,
        numFrames: Math.floor(window.samples.length / facts.hopLength),
      });
      // The prompt is context, not output: the chunk starts at <|startoftranscript|> as transformers.js's pipeline has it
      // (for words, at the first timestamp, with each token's time).
      chunks.push({ tokens: [...start, ...generated.tokens], stride: window.stride });
      if (generated.tokenTimestamps) wordChunks.push({ tokens: generated.tokens, tokenTimestamps: generated.tokenTimestamps, stride: window.stride });
    }
    const merged = this.runtime.mergeChunks(chunks, timestamps ? "segment" : "none");
    const segments = timestamps ? toSegments(merged.chunks, windows, audio.duration, facts) : [];
    const spoken = request.task === "translate" ? "english" : (NAME_OF.get(language ?? "en") ?? "english");
    const transcript: Transcript = { text: merged.text.trim(), language: spoken, duration: audio.duration, segments };
    if (words) transcript.words = toWords(this.runtime.mergeChunks(wordChunks, "word").chunks, audio.duration);
    return transcript;
  }

  /** Whisper's own language identification: the most likely language token after <|startoftranscript|>. */
  private async detectLanguage(features: AudioFeatures): Promise<string> {
    const logits = await this.runtime.nextLogits(features, [this.runtime.facts.startOfTranscript]);
    let best: [string, number] | undefined;
    for (const [token, id] of Object.entries(this.runtime.facts.langToId)) {
      if (!best || logits[id]! > best[1]) best = [token.slice(2, -2), logits[id]!];
    }
    return best![0];
  }

  private languageCode(language: string): string {
    const wanted = language.trim().toLowerCase();
    const code = CODE_OF.get(wanted) ?? wanted;
    const known = this.languages;
    if (known.length === 0) {
      if (code === "en") return code;
      throw new InvalidInputError(`this model is English-only; '${language}' cannot be transcribed`, "language");
    }
    if (!known.includes(code)) {
      throw new InvalidInputError(`'${language}' is not a language of this model (ISO 639-1 codes: ${known.join(", ")})`, "language");
    }
    return code;
  }

  /** <|startofprev|> and the prompt's last tokens: at most half the decoder's positions, as Whisper keeps it. */
  private promptTokens(prompt: string | undefined): number[] {
    const facts = this.runtime.facts;
    if (!prompt?.trim() || facts.startOfPrev === undefined) return [];
    const room = Math.floor(Math.min(facts.maxTargetPositions, facts.maxLength) / 2) - 1;
    return [facts.startOfPrev, ...this.runtime.encodeText(` ${prompt.trim()}`).slice(-room)];
  }
}

/** The 30-second windows transformers.js's pipeline cuts (chunk_length_s 30, stride_length_s 5). */
function splitWindows(samples: Float32Array, rate: number): Window[] {
  const window = rate * WINDOW_SECONDS;
  const stride = rate * STRIDE_SECONDS;
  const jump = window - 2 * stride;
  const windows: Window[] = [];
  for (let offset = 0; ; offset += jump) {
    const end = offset + window;
    const part = samples.subarray(offset, end);
    const last = end >= samples.length;
    windows.push({ samples: part, stride: [part.length / rate, offset === 0 ? 0 : STRIDE_SECONDS, last ? 0 : STRIDE_SECONDS], offsetSamples: offset });
    if (last) return windows;
  }
}

/** Timestamped chunks as OpenAI's segments: times within the audio, an open end closed at the end of the audio. */
function toSegments(chunks: Array<{ start: number | null; end: number | null; text: string }>, windows: Window[], duration: number, facts: WhisperRuntime["facts"]): TranscriptSegment[] {
  const within = (t: number) => Math.min(Math.max(t, 0), duration);
  return chunks.map((chunk, id) => {
    const start = within(chunk.start ?? 0);
    const end = Math.max(start, within(chunk.end ?? duration));
    const window = windows.findLast((w) => w.offsetSamples / facts.samplingRate <= start) ?? windows[0]!;
    return { id, seek: Math.round(window.offsetSamples / facts.hopLength), start, end, text: chunk.text, compressionRatio: compressionRatio(chunk.text) };
  });
}

/** Word chunks as OpenAI's words: the word without its leading space, times within the audio. */
function toWords(chunks: Array<{ start: number | null; end: number | null; text: string }>, duration: number): TranscriptWord[] {
  const within = (t: number) => Math.min(Math.max(t, 0), duration);
  return chunks.map((chunk) => {
    const start = within(chunk.start ?? 0);
    return { word: chunk.text.trim(), start, end: Math.max(start, within(chunk.end ?? duration)) };
  });
}

function compressionRatio(text: string): number {
  const bytes = Buffer.from(text, "utf8");
  return bytes.length === 0 ? 0 : bytes.length / deflateSync(bytes).length;
}

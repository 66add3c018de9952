/**
 * Uploaded audio → mono float samples at the rate a model wants, in-process (no ffmpeg): WAV through wavefile,
 * FLAC, MP3 and Ogg/Opus through the wasm-audio-decoders family (WebAssembly inlined in their JavaScript, so they
 * need no files beside the executable). Runs in the engine worker: the HTTP thread never loads the decoders.
 */
// Whole-module imports: these packages declare `sideEffects: false`, and Bun's bundler then drops their unused
// WebWorker classes but keeps the index's call that names them, so the compiled binary failed with a ReferenceError
// when the module loaded. A namespace object keeps every export (the binary runs test/e2e/audio-*.test.ts).
import * as flac from "@wasm-audio-decoders/flac";
import * as mpg123 from "mpg123-decoder";
import * as oggOpus from "ogg-opus-decoder";
import { WaveFile } from "wavefile";
import { resampleTo } from "./audio-resample.ts";
import { UnsupportedAudioError } from "./errors.ts";

export type AudioFormat = "wav" | "flac" | "mp3" | "ogg-opus";

export interface DecodedAudio {
  format: AudioFormat;
  /** Mono samples in [-1, 1] at `sampleRate`. */
  samples: Float32Array;
  sampleRate: number;
  /** Seconds of audio in the file. */
  duration: number;
}

const ascii = (bytes: Uint8Array, at: number, length: number) => String.fromCharCode(...bytes.subarray(at, at + length));

/** The container, from the file's first bytes; a file name or content type is never trusted. */
export function sniffAudioFormat(bytes: Uint8Array): AudioFormat | { unsupported: string } {
  if (bytes.length < 12) return { unsupported: `the file is ${bytes.length} bytes long, too short to be audio` };
  if (ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 4) === "WAVE") return "wav";
  if (ascii(bytes, 0, 4) === "fLaC") return "flac";
  if (ascii(bytes, 0, 4) === "OggS") {
    const head = ascii(bytes, 0, Math.min(bytes.length, 512));
    if (head.includes("OpusHead")) return "ogg-opus";
    if (head.includes("vorbis")) return { unsupported: "Ogg Vorbis audio is not decoded (Ogg/Opus is)" };
    return { unsupported: "this Ogg stream is not Opus" };
  }
  if (ascii(bytes, 0, 3) === "ID3") return "mp3";
  // An MPEG audio frame header: 11 sync bits, a version, and a layer that is not the reserved 00 (which AAC's ADTS uses).
  if (bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0 && (bytes[1]! & 0x06) !== 0) return "mp3";
  if (ascii(bytes, 4, 4) === "ftyp") return { unsupported: "MP4/M4A audio is not decoded" };
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return { unsupported: "WebM/Matroska audio is not decoded" };
  return { unsupported: "the file is not audio in a format gpt3dev recognises" };
}

interface Channels {
  channels: Float32Array[];
  sampleRate: number;
}

function decodeWav(bytes: Uint8Array): Channels {
  const wav = new WaveFile();
  wav.fromBuffer(bytes);
  const fmt = wav.fmt as { audioFormat: number; sampleRate: number };
  // Read now: the conversions below replace wav.fmt and reset the old object.
  const sampleRate = fmt.sampleRate;
  // 6 a-law, 7 mu-law, 17 IMA ADPCM: expanded to 16-bit PCM first.
  if (fmt.audioFormat === 6) wav.fromALaw();
  else if (fmt.audioFormat === 7) wav.fromMuLaw();
  else if (fmt.audioFormat === 17) wav.fromIMAADPCM();
  else if (fmt.audioFormat !== 1 && fmt.audioFormat !== 3 && fmt.audioFormat !== 0xfffe) {
    throw new UnsupportedAudioError(`WAV with audio format code ${fmt.audioFormat} is not decoded`);
  }
  wav.toBitDepth("32f");
  const samples = wav.getSamples(false, Float32Array) as unknown as Float32Array | Float32Array[];
  return { channels: Array.isArray(samples) ? samples : [samples], sampleRate };
}

async function decodeWasm(format: Exclude<AudioFormat, "wav">, bytes: Uint8Array): Promise<Channels> {
  const decoder = format === "flac" ? new flac.FLACDecoder() : format === "mp3" ? new mpg123.MPEGDecoder() : new oggOpus.OggOpusDecoder();
  await decoder.ready;
  try {
    const decoded = decoder instanceof mpg123.MPEGDecoder ? decoder.decode(bytes) : await decoder.decodeFile(bytes);
    if (decoded.samplesDecoded === 0) {
      const why = decoded.errors[0]?.message;
      throw new UnsupportedAudioError(`the ${format} data could not be decoded${why ? ` (${why})` : ""}`);
    }
    return { channels: decoded.channelData.map((c) => c.subarray(0, decoded.samplesDecoded)), sampleRate: decoded.sampleRate };
  } finally {
    decoder.free();
  }
}

function toMono(channels: Float32Array[]): Float32Array {
  if (channels.length === 1) return channels[0]!;
  const length = Math.min(...channels.map((c) => c.length));
  const mono = new Float32Array(length);
  for (const channel of channels) for (let i = 0; i < length; i++) mono[i]! += channel[i]! / channels.length;
  return mono;
}

/** Decodes an uploaded file; throws UnsupportedAudioError when its format is not one gpt3dev reads or it is damaged. */
export async function decodeAudio(bytes: Uint8Array, targetRate: number): Promise<DecodedAudio> {
  const format = sniffAudioFormat(bytes);
  if (typeof format !== "string") throw new UnsupportedAudioError(format.unsupported);
  let decoded: Channels;
  try {
    decoded = format === "wav" ? decodeWav(bytes) : await decodeWasm(format, bytes);
  } catch (error) {
    if (error instanceof UnsupportedAudioError) throw error;
    throw new UnsupportedAudioError(`the ${format} data could not be decoded (${error instanceof Error ? error.message : String(error)})`);
  }
  const mono = toMono(decoded.channels);
  if (mono.length === 0 || !(decoded.sampleRate > 0)) throw new UnsupportedAudioError(`the ${format} file holds no audio samples`);
  return { format, samples: resampleTo(mono, decoded.sampleRate, targetRate), sampleRate: targetRate, duration: mono.length / decoded.sampleRate };
}

import { describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeAudio, sniffAudioFormat } from "../../src/engine/audio-decode.ts";
import { pcm16, UNKNOWN_WAV_SIZE, wavHeader } from "../../src/engine/audio-encode.ts";
import { UnsupportedAudioError } from "../../src/engine/errors.ts";
import { speechPieces } from "../../src/engine/speech-text.ts";
import { WaveFile } from "wavefile";
import { speechLike, wavFile } from "../audio/signal.ts";

const fixture = (name: string) => new Uint8Array(readFileSync(join(import.meta.dir, "../fixtures/audio", name)));
// The signal the committed FLAC, MP3 and Opus files were encoded from (see test/fixtures/audio/README.md).
const SOURCE = speechLike(1, 16_000);
const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe("decodeAudio", () => {
  it("reads 32-bit float WAV exactly and 16-bit WAV to within one step", async () => {
    const float = await decodeAudio(wavFile(SOURCE, 16_000, "float32"), 16_000);
    expect(float).toMatchObject({ format: "wav", sampleRate: 16_000, duration: 1 });
    expect(float.samples).toEqual(SOURCE);
    const int16 = await decodeAudio(wavFile(SOURCE, 16_000, "pcm16"), 16_000);
    expect(maxDiff(int16.samples, SOURCE)).toBeLessThan(1 / 16_000);
  });

  it("expands a-law and mu-law WAV (telephone audio) to within their quantization", async () => {
    for (const law of ["toALaw", "toMuLaw"] as const) {
      const wav = new WaveFile();
      wav.fromScratch(1, 16_000, "16", Int16Array.from(SOURCE, (x) => Math.round(x * 32767)));
      wav[law]();
      const decoded = await decodeAudio(wav.toBuffer(), 16_000);
      expect({ law, duration: decoded.duration }).toEqual({ law, duration: 1 });
      // 8-bit companding keeps about 5% of the amplitude near full scale; the loudness is kept.
      expect(maxDiff(decoded.samples, SOURCE)).toBeLessThan(0.05);
      expect(rms(decoded.samples) / rms(SOURCE)).toBeCloseTo(1, 1);
    }
  });

  it("mixes channels down and resamples to the rate asked for", async () => {
    const stereo = await decodeAudio(wavFile(speechLike(1, 44_100), 44_100, "pcm16", 2), 16_000);
    expect(stereo.duration).toBe(1);
    expect(stereo.samples.length).toBe(16_000);
    // The same signal generated at 16 kHz: resampling keeps it (the band-limit only trims what 16 kHz cannot hold).
    expect(rms(stereo.samples) / rms(SOURCE)).toBeCloseTo(1, 1);
  });

  it("reads FLAC losslessly (the 16-bit samples it was encoded from)", async () => {
    const flac = await decodeAudio(fixture("speech-like-16k-mono.flac"), 16_000);
    const wav = await decodeAudio(wavFile(SOURCE, 16_000, "pcm16"), 16_000);
    expect(flac).toMatchObject({ format: "flac", duration: 1 });
    expect(maxDiff(flac.samples, wav.samples)).toBeLessThan(1e-4);
  });

  it("reads MP3 and Ogg/Opus (44.1 kHz stereo, lossy) back to 16 kHz mono of about the same length and loudness", async () => {
    for (const [name, format] of [["speech-like-44k-stereo.mp3", "mp3"], ["speech-like-44k-stereo.opus", "ogg-opus"]] as const) {
      const decoded = await decodeAudio(fixture(name), 16_000);
      expect(decoded.format).toBe(format);
      expect(Math.abs(decoded.duration - 1)).toBeLessThan(0.1);
      expect(Math.abs(decoded.samples.length - decoded.duration * 16_000)).toBeLessThanOrEqual(1);
      expect(rms(decoded.samples) / rms(SOURCE)).toBeGreaterThan(0.7);
      expect(rms(decoded.samples) / rms(SOURCE)).toBeLessThan(1.3);
    }
  });

  it("refuses other formats and damaged files with the reason", async () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [fixture("speech-like-short.vorbis.ogg"), /Ogg Vorbis audio is not decoded/],
      [new Uint8Array([0, 0, 0, 0x20, ...new TextEncoder().encode("ftypM4A "), 0, 0, 0, 0]), /MP4\/M4A audio is not decoded/],
      [new Uint8Array([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81]), /WebM\/Matroska audio is not decoded/],
      [new TextEncoder().encode("just some text, certainly no audio"), /not audio in a format gpt3dev recognises/],
      [new Uint8Array(4), /too short to be audio/],
      [fixture("speech-like-16k-mono.flac").subarray(0, 60), /flac data could not be decoded/],
      [wavFile(new Float32Array(0), 16_000), /holds no audio samples/],
    ];
    for (const [bytes, reason] of cases) {
      const error = await decodeAudio(bytes, 16_000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsupportedAudioError);
      expect((error as UnsupportedAudioError).reason).toMatch(reason);
    }
  });

  it("sniffs the container from the bytes, whatever the file is called", () => {
    expect(sniffAudioFormat(fixture("speech-like-16k-mono.flac"))).toBe("flac");
    expect(sniffAudioFormat(fixture("speech-like-44k-stereo.mp3"))).toBe("mp3");
    expect(sniffAudioFormat(fixture("speech-like-44k-stereo.opus"))).toBe("ogg-opus");
    expect(sniffAudioFormat(wavFile(SOURCE, 16_000))).toBe("wav");
  });
});

describe("audio encoding", () => {
  it("writes 16-bit PCM rounded and clipped, and a 44-byte WAV header with exact or unknown sizes", () => {
    const bytes = pcm16(Float32Array.from([0, 1, -1, 0.5, 2, -2]));
    expect([...new Int16Array(bytes.buffer)]).toEqual([0, 32767, -32767, 16384, 32767, -32767]);
    const header = new DataView(wavHeader(16_000, 12).buffer);
    expect([header.getUint32(4, true), header.getUint32(24, true), header.getUint32(28, true), header.getUint32(40, true)]).toEqual([48, 16_000, 32_000, 12]);
    const streamed = new DataView(wavHeader(22_050, UNKNOWN_WAV_SIZE).buffer);
    expect([streamed.getUint32(4, true), streamed.getUint32(40, true)]).toEqual([UNKNOWN_WAV_SIZE, UNKNOWN_WAV_SIZE]);
  });
});

describe("speechPieces", () => {
  it("gives every character back exactly once, in order, for any text", () => {
    let seed = 7;
    const alphabet = "ab .!?\n\"')x";
    for (let n = 0; n < 500; n++) {
      let text = "";
      const length = n % 40;
      for (let i = 0; i < length; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        text += alphabet[seed % alphabet.length];
      }
      const pieces = speechPieces(text);
      expect(pieces.join("")).toBe(text);
      expect(pieces.every((p) => p.length > 0)).toBe(true);
    }
  });

  it("cuts after sentence punctuation and the spaces that follow, and at line breaks", () => {
    expect(speechPieces("Good morning. The train leaves at seven! Will it rain?")).toEqual(["Good morning. ", "The train leaves at seven! ", "Will it rain?"]);
    expect(speechPieces('He said "stop." Then left\nand came back')).toEqual(['He said "stop." ', "Then left\n", "and came back"]);
    expect(speechPieces("no punctuation at all")).toEqual(["no punctuation at all"]);
  });
});

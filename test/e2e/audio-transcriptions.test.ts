import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BadRequestError, toFile } from "openai";
import { mostLikelyLanguage, modelDir, promptedTranscript, referenceAsr, timecode, type ReferenceAsr } from "../audio/reference.ts";
import { speechLike, wavFile } from "../audio/signal.ts";
import { REPO_ROOT, startServer, type RunningServer } from "./harness.ts";
import { describeEachMode, errorOf } from "./suite.ts";

const MODEL = "tiny-whisper";
const SECONDS = 2;
// 32-bit float WAV at the model's rate: the server's decoder hands the model these very samples, as the reference gets them.
const SAMPLES = Float32Array.from(speechLike(SECONDS, 16_000));
const WAV = wavFile(SAMPLES, 16_000, "float32");
const CHUNKING = { chunk_length_s: 30, stride_length_s: 5 };
const fixture = (name: string) => readFileSync(join(REPO_ROOT, "test/fixtures/audio", name));
const upload = (bytes: Uint8Array, name = "speech.wav") => toFile(bytes, name);

interface Verbose {
  task: string;
  language: string;
  duration: number;
  text: string;
  segments: Array<{ id: number; seek: number; start: number; end: number; text: string; temperature: number; compression_ratio: number }>;
  usage: { type: string; seconds: number };
}

/** The reference's timestamped chunks as the server's segments: times clipped to the audio, an open end at its end. */
function expectedSegments(reference: ReferenceAsr, duration: number) {
  const within = (t: number) => Math.min(Math.max(t, 0), duration);
  return (reference.chunks ?? []).map((chunk, id) => {
    const start = within(chunk.timestamp[0] ?? 0);
    return { id, start, end: Math.max(start, within(chunk.timestamp[1] ?? duration)), text: chunk.text };
  });
}

describeEachMode("POST /v1/audio/transcriptions and /translations", (ctx, mode) => {
  let plain: ReferenceAsr;
  let timed: ReferenceAsr;
  let asr: Awaited<ReturnType<typeof referenceAsr>>;
  beforeAll(async () => {
    asr = await referenceAsr(modelDir(mode, MODEL));
    plain = await asr(SAMPLES, { language: "en", task: "transcribe", ...CHUNKING });
    timed = await asr(SAMPLES, { language: "en", task: "transcribe", return_timestamps: true, ...CHUNKING });
    expect(plain.text.trim().length).toBeGreaterThan(10);
  });
  const transcribe = async (params: Record<string, unknown>) =>
    (await ctx().client.audio.transcriptions.create({ model: MODEL, file: await upload(WAV), ...params } as never)) as unknown;

  it("json: the text transformers.js's pipeline reads from the same audio, and the duration billed", async () => {
    const result = (await transcribe({ language: "en" })) as { text: string; usage: unknown };
    expect(result).toEqual({ text: plain.text.trim(), usage: { type: "duration", seconds: SECONDS } });
  });

  it("text: the same text as a plain body", async () => {
    expect(await transcribe({ language: "en", response_format: "text" })).toBe(`${plain.text.trim()}\n`);
  });

  it("verbose_json: language, duration and segments equal to the pipeline's timestamped chunks", async () => {
    const result = (await transcribe({ language: "en", response_format: "verbose_json", timestamp_granularities: ["segment"] })) as Verbose;
    expect(result.text).toBe(timed.text.trim());
    expect(result.task).toBe("transcribe");
    expect(result.language).toBe("english");
    expect(result.duration).toBe(SECONDS);
    expect(result.segments.length).toBeGreaterThan(0);
    expect(result.segments.map(({ id, start, end, text }) => ({ id, start, end, text }))).toEqual(expectedSegments(timed, SECONDS));
    for (const segment of result.segments) {
      expect(segment.temperature).toBe(0);
      expect(segment.seek).toBe(0);
      expect(segment.compression_ratio).toBeGreaterThan(0);
    }
  });

  it("verbose_json with word granularity: words aligned as the pipeline aligns them, and the same segments", async () => {
    const words = await asr(SAMPLES, { language: "en", task: "transcribe", return_timestamps: "word", ...CHUNKING });
    const result = (await transcribe({ language: "en", response_format: "verbose_json", timestamp_granularities: ["word", "segment"] })) as Verbose & {
      words: Array<{ word: string; start: number; end: number }>;
    };
    const within = (t: number) => Math.min(Math.max(t, 0), SECONDS);
    const expected = (words.chunks ?? []).map((chunk) => {
      const start = within(chunk.timestamp[0] ?? 0);
      return { word: chunk.text.trim(), start, end: Math.max(start, within(chunk.timestamp[1] ?? SECONDS)) };
    });
    expect(expected.length).toBeGreaterThan(3);
    expect(result.words).toEqual(expected);
    expect(result.segments.map(({ id, start, end, text }) => ({ id, start, end, text }))).toEqual(expectedSegments(timed, SECONDS));
  });

  it("srt and vtt: one cue per verbose_json segment, numbered and timed", async () => {
    const verbose = (await transcribe({ language: "en", response_format: "verbose_json" })) as Verbose;
    const cues = (sep: string) => verbose.segments.map((s) => `${timecode(s.start, sep)} --> ${timecode(s.end, sep)}\n${s.text.trim()}\n\n`);
    expect(await transcribe({ language: "en", response_format: "srt" })).toBe(cues(",").map((cue, i) => `${i + 1}\n${cue}`).join(""));
    expect(await transcribe({ language: "en", response_format: "vtt" })).toBe(`WEBVTT\n\n${cues(".").join("")}`);
  });

  it("detects the language as Whisper does when none is given, and translates from it", async () => {
    const detected = await mostLikelyLanguage(modelDir(mode, MODEL), SAMPLES);
    const names: Record<string, string> = { en: "english", zh: "chinese", de: "german", es: "spanish", ru: "russian", fr: "french", ja: "japanese" };
    const verbose = (await transcribe({ response_format: "verbose_json" })) as Verbose;
    expect(verbose.language).toBe(names[detected]!);
    const translated = await ctx().client.audio.translations.create({ model: MODEL, file: await upload(WAV) });
    const reference = await asr(SAMPLES, { language: detected, task: "translate", ...CHUNKING });
    expect(translated.text).toBe(reference.text.trim());
    const verboseTranslation = (await ctx().client.audio.translations.create({ model: MODEL, file: await upload(WAV), response_format: "verbose_json" })) as unknown as Verbose;
    expect({ task: verboseTranslation.task, language: verboseTranslation.language }).toEqual({ task: "translate", language: "english" });
  });

  it("prompt: Whisper's previous text goes before the start tokens, and steers the text without appearing in it", async () => {
    const prompt = "The baker and the train at seven.";
    const result = (await transcribe({ language: "en", prompt })) as { text: string };
    expect(result.text).toBe(await promptedTranscript(modelDir(mode, MODEL), SAMPLES, prompt));
    expect(result.text).not.toBe(plain.text.trim());
  });

  it("reads FLAC, MP3 and Ogg/Opus uploads (resampled to 16 kHz mono)", async () => {
    for (const [name, duration, tolerance] of [
      ["speech-like-16k-mono.flac", 1, 0],
      ["speech-like-44k-stereo.mp3", 1, 0.1],
      ["speech-like-44k-stereo.opus", 1, 0.1],
    ] as const) {
      const result = (await ctx().client.audio.transcriptions.create({ model: MODEL, file: await upload(fixture(name), name), response_format: "verbose_json", language: "en" })) as unknown as Verbose;
      expect({ name, duration: result.duration, close: Math.abs(result.duration - duration) <= tolerance }).toMatchObject({ name, close: true });
      expect(result.text.length).toBeGreaterThan(0);
    }
  });

  it("refuses audio it cannot decode with 400 naming file and the formats accepted", async () => {
    for (const [name, bytes] of [
      ["speech.ogg", fixture("speech-like-short.vorbis.ogg")],
      ["notes.txt", new TextEncoder().encode("these are not the sounds you are looking for")],
      ["cut.flac", fixture("speech-like-16k-mono.flac").subarray(0, 40)],
    ] as const) {
      const error = await ctx().client.audio.transcriptions.create({ model: MODEL, file: await upload(bytes, name) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadRequestError);
      const { param, message } = error as BadRequestError;
      expect({ name, param }).toEqual({ name, param: "file" });
      expect(message).toContain("Accepted audio formats: WAV (PCM or float), FLAC, MP3 and Ogg/Opus");
    }
  });

  it("refuses what it cannot do by name: streaming, unknown languages, a text model, granularities without verbose_json", async () => {
    const cases: Array<[Record<string, unknown>, string, string | RegExp]> = [
      [{ timestamp_granularities: ["segment"] }, "timestamp_granularities[]", /needs response_format 'verbose_json'/],
      [{ stream: true }, "stream", /not supported/],
      [{ language: "tlh" }, "language", /not a language of this model \(ISO 639-1 codes: en, zh, de, es, ru, fr, ja\)/],
      [{ temperature: 1.5 }, "temperature", /from 0 to 1/],
      [{ model: "tiny-gpt2" }, "model", /text-generation model and cannot be used with \/v1\/audio\/transcriptions/],
      [{ response_format: "diarized_json" }, "response_format", /'json', 'text', 'srt', 'verbose_json' or 'vtt'/],
    ];
    for (const [params, param, message] of cases) {
      const error = (await transcribe(params).catch((e: unknown) => e)) as BadRequestError;
      expect({ params, status: error.status, param: error.param }).toEqual({ params, status: 400, param });
      expect(error.message).toMatch(message);
    }
  });

  if (mode === "source") {
    it("cuts audio longer than 30 s into overlapping windows exactly as the pipeline's chunking does", async () => {
      const long = Float32Array.from(speechLike(36, 16_000));
      const result = await ctx().client.audio.transcriptions.create({ model: MODEL, file: await upload(wavFile(long, 16_000, "float32")), language: "en" });
      const reference = await asr(long, { language: "en", task: "transcribe", ...CHUNKING });
      expect(result.text).toBe(reference.text.trim());
    });
  }
});

describe("audio uploads over --max-audio-bytes", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ mode: "source", args: ["--max-audio-bytes", "4096"] });
  });
  afterAll(async () => {
    await server.stop();
  });

  it("answers 413 in OpenAI's envelope, naming the flag, while JSON bodies keep their own limit", async () => {
    const form = new FormData();
    form.set("model", MODEL);
    form.set("file", new File([WAV], "speech.wav"));
    const response = await fetch(`${server.baseURL}/v1/audio/transcriptions`, { method: "POST", body: form });
    expect(response.status).toBe(413);
    const error = await errorOf(response);
    expect(error.code).toBe("request_too_large");
    expect(error.message).toContain("(4096 bytes; --max-audio-bytes)");
    const small = new FormData();
    small.set("model", MODEL);
    small.set("file", new File([wavFile(SAMPLES.subarray(0, 800), 16_000)], "speech.wav"));
    expect((await fetch(`${server.baseURL}/v1/audio/transcriptions`, { method: "POST", body: small })).status).toBe(200);
  });
});

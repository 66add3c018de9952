import { beforeAll, expect, it } from "bun:test";
import { BadRequestError } from "openai";
import { resample } from "wavefile/lib/resampler/index.js";
import { modelDir, referenceTts, toPcm16 } from "../audio/reference.ts";
import { describeEachMode, errorOf } from "./suite.ts";

const MODEL = "tiny-vits";
const ONE = "Hello there, how are you today?";
const PIECES = ["Good morning. ", "The train leaves at seven! ", "Will it rain?"];

interface Wav {
  riffSize: number;
  format: number;
  channels: number;
  rate: number;
  byteRate: number;
  bits: number;
  dataSize: number;
  data: Uint8Array;
}

/** Reads a 44-byte-header RIFF/WAVE file field by field. */
function readWav(bytes: Uint8Array): Wav {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  expect([tag(0), tag(8), tag(12), tag(36)]).toEqual(["RIFF", "WAVE", "fmt ", "data"]);
  expect(view.getUint32(16, true)).toBe(16);
  return {
    riffSize: view.getUint32(4, true),
    format: view.getUint16(20, true),
    channels: view.getUint16(22, true),
    rate: view.getUint32(24, true),
    byteRate: view.getUint32(28, true),
    bits: view.getUint16(34, true),
    dataSize: view.getUint32(40, true),
    data: bytes.subarray(44),
  };
}

const concat = (parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

describeEachMode("POST /v1/audio/speech", (ctx, mode) => {
  let tts: Awaited<ReturnType<typeof referenceTts>>;
  let rate: number;
  beforeAll(async () => {
    tts = await referenceTts(modelDir(mode, MODEL));
    rate = (await tts("a")).sampling_rate;
    expect(rate).toBe(16_000);
  });
  const speak = async (params: Record<string, unknown>) =>
    new Uint8Array(await (await ctx().client.audio.speech.create({ model: MODEL, voice: "default", input: ONE, ...params } as never)).arrayBuffer());

  it("wav: a complete file at the model's rate whose samples are transformers.js's text-to-speech output", async () => {
    const wav = readWav(await speak({ response_format: "wav" }));
    const expected = toPcm16((await tts(ONE)).audio);
    expect(expected.length).toBeGreaterThan(1000);
    expect({ format: wav.format, channels: wav.channels, rate: wav.rate, bits: wav.bits, byteRate: wav.byteRate }).toEqual({
      format: 1, channels: 1, rate, bits: 16, byteRate: rate * 2,
    });
    expect({ riffSize: wav.riffSize, dataSize: wav.dataSize }).toEqual({ riffSize: 36 + expected.length, dataSize: expected.length });
    expect(wav.data).toEqual(expected);
  });

  it("streams a longer input sentence by sentence: a streaming WAV header, then each sentence's samples", async () => {
    const response = await ctx().post("/v1/audio/speech", { model: MODEL, voice: "default", input: PIECES.join("") });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("audio/wav");
    expect(response.headers.get("content-length")).toBeNull();
    const wav = readWav(new Uint8Array(await response.arrayBuffer()));
    expect({ riffSize: wav.riffSize, dataSize: wav.dataSize, rate: wav.rate }).toEqual({ riffSize: 0xffffffff, dataSize: 0xffffffff, rate });
    const expected = concat(await Promise.all(PIECES.map(async (piece) => toPcm16((await tts(piece)).audio))));
    expect(wav.data).toEqual(expected);
  });

  it("pcm: raw 16-bit little-endian mono at 24 kHz, OpenAI's pcm", async () => {
    const pcm = await speak({ response_format: "pcm" });
    const { audio } = await tts(ONE);
    const expected = toPcm16(Float32Array.from(resample(audio, rate, 24_000, { method: "sinc" })));
    expect(pcm.length).toBe(2 * Math.round((audio.length * 24_000) / rate));
    expect(pcm).toEqual(expected);
  });

  it("refuses an unknown voice with 400 listing the voices the model has", async () => {
    const error = (await speak({ voice: "alloy" }).catch((e: unknown) => e)) as BadRequestError;
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.param).toBe("voice");
    expect(error.message).toContain("this model has no voice 'alloy'. Its voices: default.");
  });

  it("refuses what it cannot do by name: other formats, other speeds, instructions, SSE, a Whisper model", async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ response_format: "mp3" }, "response_format", /'wav' or 'pcm'/],
      [{ speed: 1.5 }, "speed", /own pace only/],
      [{ instructions: "whisper it" }, "instructions", /not supported/],
      [{ stream_format: "sse" }, "stream_format", /not supported/],
      [{ model: "tiny-whisper" }, "model", /speech-recognition model and cannot be used with \/v1\/audio\/speech/],
      [{ input: "" }, "input", /non-empty string/],
    ];
    for (const [params, param, message] of cases) {
      const response = await ctx().post("/v1/audio/speech", { model: MODEL, voice: "default", input: ONE, ...params });
      const error = await errorOf(response);
      expect({ params, status: response.status, param: error.param }).toEqual({ params, status: 400, param });
      expect(error.message).toMatch(message);
    }
  });
});

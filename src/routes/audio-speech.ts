import type { Engine } from "../engine/engine.ts";
import { resampleTo } from "../engine/audio-resample.ts";
import { pcm16, UNKNOWN_WAV_SIZE, wavHeader } from "../engine/audio-encode.ts";
import { speechPieces } from "../engine/speech-text.ts";
import { inRoute } from "../errors.ts";
import type { SpeechCreateParams } from "../openai/audio.ts";

/** OpenAI's `pcm` is raw 16-bit little-endian mono at 24 kHz; WAV keeps the model's own rate, stated in its header. */
const PCM_RATE = 24_000;
const ROUTE = "/v1/audio/speech";
const paramOf = (argument: string) => (argument === "text" ? "input" : argument);

/**
 * Speaks the input sentence by sentence and sends each sentence's audio as soon as it exists. The first sentence is
 * synthesized before the answer starts, so a bad voice or model is an error status, not a broken stream. A WAV of one
 * sentence has its exact sizes; a longer one is streamed with the sizes left unknown (0xFFFFFFFF), as OpenAI's is.
 */
export async function speechResponse(engine: Engine, body: SpeechCreateParams, signal: AbortSignal): Promise<Response> {
  const format = body.response_format ?? "wav";
  const pieces = speechPieces(body.input);
  const speak = (text: string) =>
    inRoute(engine.synthesize({ model: body.model, text, voice: body.voice, speed: body.speed }), { route: ROUTE, paramOf });
  const first = await speak(pieces[0] ?? body.input);
  const bytesOf = (samples: Float32Array, rate: number) => pcm16(format === "pcm" ? resampleTo(samples, rate, PCM_RATE) : samples);
  const firstBytes = bytesOf(first.samples, first.sampleRate);
  const headers = { "content-type": format === "pcm" ? "audio/pcm" : "audio/wav" };

  if (pieces.length <= 1) {
    const head = format === "wav" ? [wavHeader(first.sampleRate, firstBytes.length)] : [];
    return new Response(new Blob([...head, firstBytes]), { headers });
  }
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      try {
        if (format === "wav") controller.enqueue(wavHeader(first.sampleRate, UNKNOWN_WAV_SIZE));
        controller.enqueue(firstBytes);
        for (const piece of pieces.slice(1)) {
          if (signal.aborted) break;
          const next = await speak(piece);
          controller.enqueue(bytesOf(next.samples, next.sampleRate));
        }
        controller.close();
      } catch (error) {
        // The status is sent already: the client sees the audio end early (a later sentence failed to synthesize).
        controller.error(error);
      }
    },
  });
  return new Response(stream, { headers });
}

/** Synthesized audio → bytes: 16-bit little-endian PCM, and the WAV header that goes in front of it. */

/** Float samples in [-1, 1] (clipped) → signed 16-bit little-endian, the way most encoders round (x · 32767). */
export function pcm16(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) {
    const clipped = Math.max(-1, Math.min(1, samples[i]!));
    view.setInt16(i * 2, Math.round(clipped * 32767), true);
  }
  return out;
}

/** Marks a size not known when the header is sent (a streamed WAV), as OpenAI's streamed WAV does. */
export const UNKNOWN_WAV_SIZE = 0xffffffff;

/** A 44-byte RIFF/WAVE header for mono 16-bit PCM; `dataBytes` = UNKNOWN_WAV_SIZE when the audio is streamed. */
export function wavHeader(sampleRate: number, dataBytes: number): Uint8Array {
  const header = new Uint8Array(44);
  const view = new DataView(header.buffer);
  const text = (at: number, s: string) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  const unknown = dataBytes === UNKNOWN_WAV_SIZE;
  text(0, "RIFF");
  view.setUint32(4, unknown ? UNKNOWN_WAV_SIZE : 36 + dataBytes, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, dataBytes, true);
  return header;
}

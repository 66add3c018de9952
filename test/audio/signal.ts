/**
 * Test audio made here, not by the code under test: a deterministic speech-like signal (a gliding tone with a
 * syllable-rate envelope and a little seeded noise) and WAV files of it, written byte by byte.
 */
export function speechLike(seconds: number, rate = 16_000): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate));
  let seed = 12345;
  for (let i = 0; i < out.length; i++) {
    const t = i / rate;
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const noise = (seed / 2 ** 32 - 0.5) * 0.002;
    const pitch = 180 + 60 * Math.sin(2 * Math.PI * 0.7 * t);
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t);
    out[i] = 0.4 * envelope * (Math.sin(2 * Math.PI * pitch * t) + 0.3 * Math.sin(2 * Math.PI * 3 * pitch * t)) + noise;
  }
  return out;
}

/** A RIFF/WAVE file: 16-bit PCM (format 1) or 32-bit float (format 3), `channels` copies of the samples interleaved. */
export function wavFile(samples: Float32Array, rate: number, encoding: "pcm16" | "float32" = "pcm16", channels = 1): Uint8Array {
  const bytesPer = encoding === "pcm16" ? 2 : 4;
  const data = samples.length * channels * bytesPer;
  const out = new Uint8Array(44 + data);
  const view = new DataView(out.buffer);
  const text = (at: number, s: string) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + data, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, encoding === "pcm16" ? 1 : 3, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * channels * bytesPer, true);
  view.setUint16(32, channels * bytesPer, true);
  view.setUint16(34, bytesPer * 8, true);
  text(36, "data");
  view.setUint32(40, data, true);
  for (let i = 0; i < samples.length; i++) {
    for (let c = 0; c < channels; c++) {
      const at = 44 + (i * channels + c) * bytesPer;
      if (encoding === "float32") view.setFloat32(at, samples[i]!, true);
      else view.setInt16(at, Math.round(Math.max(-1, Math.min(1, samples[i]!)) * 32767), true);
    }
  }
  return out;
}

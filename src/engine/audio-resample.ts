// wavefile's resampler module (no types of its own; the signature is declared in wavefile-resampler.d.ts).
import { resample } from "wavefile/lib/resampler/index.js";

/** Converts mono samples between rates with wavefile's windowed-sinc resampler (low-pass filtered when going down). */
export function resampleTo(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (fromRate === toRate || samples.length === 0) return samples;
  return Float32Array.from(resample(samples, fromRate, toRate, { method: "sinc" }));
}

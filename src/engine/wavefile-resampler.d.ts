// wavefile ships its resampler as plain JavaScript without declarations.
declare module "wavefile/lib/resampler/index.js" {
  export function resample(
    samples: ArrayLike<number>,
    oldSampleRate: number,
    sampleRate: number,
    options?: { method?: "point" | "linear" | "cubic" | "sinc"; LPF?: boolean; LPFType?: "IIR" | "FIR"; LPFOrder?: number },
  ): Float64Array;
}

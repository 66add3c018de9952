import type { TextToWaveformRuntime } from "../runtime/speech-models.ts";
import type { SessionSettings } from "../runtime/session.ts";
import { InvalidInputError, UnknownVoiceError } from "./errors.ts";
import type { ModelSpec } from "./registry.ts";
import { SpeechModelBase } from "./speech-model-base.ts";

/** One piece of a speech request in engine terms: the text of one sentence (or the whole input), spoken with `voice`. */
export interface SpeechRequest {
  model: string;
  text: string;
  voice: string;
  /** 1 is the model's own pace. */
  speed?: number;
}

export interface SpeechResult {
  modelId: string;
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
  sampleRate: number;
}

/** The one voice of a single-speaker model (VITS / MMS-TTS checkpoints speak with one voice each). */
export const DEFAULT_VOICE = "default";

/** A loaded text-to-waveform model (VITS / MMS-TTS). */
export class SpeechModel extends SpeechModelBase<TextToWaveformRuntime> {
  readonly kind = "text-to-speech" as const;

  static async load(spec: ModelSpec, settings: SessionSettings = {}): Promise<SpeechModel> {
    // transformers.js (about 15 MiB a worker) is loaded with the first speech model, not with the worker.
    const { loadTextToWaveform } = await import("../runtime/speech-models.ts");
    return new SpeechModel(spec, await loadTextToWaveform(spec.dir, spec.dtype, settings));
  }

  get voices(): string[] {
    return [DEFAULT_VOICE];
  }

  get sampleRate(): number {
    return this.runtime.samplingRate;
  }

  async synthesize(request: Omit<SpeechRequest, "model">): Promise<Omit<SpeechResult, "modelId">> {
    if (!this.voices.includes(request.voice)) throw new UnknownVoiceError(request.voice, this.voices.join(", "));
    // VITS exports bake the speaking rate into the graph; stretching the waveform would change the pitch too.
    if (request.speed !== undefined && request.speed !== 1) {
      throw new InvalidInputError("this model speaks at its own pace only (speed 1.0)", "speed");
    }
    const samples = request.text.trim() === "" ? new Float32Array(0) : await this.runtime.synthesize(request.text);
    return { samples, sampleRate: this.runtime.samplingRate };
  }
}

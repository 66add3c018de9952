// What a JS developer would write instead of gpt3dev: transformers.js `generate()` on the same model file,
// greedy, exactly `tokens` new tokens (min_new_tokens = max_new_tokens, so an EOS cannot end it early), timed at
// each token it hands to the streamer.
//
//   bun bench/transformers-generate.ts '<GenerateJob as JSON>'   → prints one GenerateResult as JSON
import "../src/runtime/transformers.ts"; // offline settings, one onnxruntime-node instance
import { AutoModelForCausalLM, BaseStreamer, Tensor, type TextStreamer } from "@huggingface/transformers";
import { serverSessionOptions } from "./session-options.ts";
import { elapsedMs, now, repeatFor, summarize, type Decode, type PathFigures } from "./stats.ts";

export interface GenerateJob {
  modelDir: string;
  /** transformers.js dtype: "fp32" → onnx/model.onnx, "q8" → onnx/model_quantized.onnx. */
  dtype: "fp32" | "q8";
  threads: number;
  promptIds: number[];
  tokens: number;
  warmupTokens: number;
}

export interface GenerateResult extends PathFigures {
  loadMs: number;
}

/** Records when generate() hands over each new token (its first put() is the prompt). */
class TimingStreamer extends BaseStreamer {
  readonly times: number[] = [];
  private promptSeen = false;

  override put(_value: bigint[][]): void {
    if (!this.promptSeen) this.promptSeen = true;
    else this.times.push(now());
  }

  override end(): void {}
}

export async function transformersGenerate(job: GenerateJob): Promise<GenerateResult> {
  const t0 = now();
  const model = await AutoModelForCausalLM.from_pretrained(job.modelDir, {
    dtype: job.dtype,
    device: "cpu",
    local_files_only: true,
    session_options: serverSessionOptions(job.threads),
  });
  const loadMs = elapsedMs(t0, now());
  const n = job.promptIds.length;
  const generate = async (tokens: number): Promise<Decode> => {
    const streamer = new TimingStreamer();
    const input_ids = new Tensor("int64", BigInt64Array.from(job.promptIds, (v) => BigInt(v)), [1, n]);
    const attention_mask = new Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]);
    const startNs = now();
    await model.generate({
      input_ids,
      attention_mask,
      max_new_tokens: tokens,
      min_new_tokens: tokens,
      do_sample: false,
      // The declared type asks for a TextStreamer; generate() only calls put() and end().
      streamer: streamer as unknown as TextStreamer,
    });
    const t = streamer.times;
    const gapsMs = t.slice(1).map((x, i) => elapsedMs(t[i] as number, x));
    return { rows: 1, tokens: t.length, startNs, firstNs: t[0] ?? now(), endNs: t.at(-1) ?? now(), gapsMs, deliveries: t.length };
  };
  try {
    await generate(job.warmupTokens);
    const decodes = await repeatFor(() => generate(job.tokens), (d) => elapsedMs(d.startNs, d.endNs));
    return { loadMs, ...summarize(decodes) };
  } finally {
    await model.dispose();
  }
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? "") as GenerateJob;
  console.log(JSON.stringify(await transformersGenerate(job)));
}

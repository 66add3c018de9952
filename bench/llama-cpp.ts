// llama.cpp on the bench model's own weights (GGUF written by scripts/gguf-from-onnx.ts), through node-llama-cpp's
// prebuilt CPU binary, in a process of its own: `streams` sequences of one context decode greedily from their prompts
// at the same time (llama.cpp batches them into one decode per step), timed at every token. Without `settings`, one
// stream first tries 1 and `threads` threads, flash attention off and on (8 tokens each), and the fastest is used for
// every run: llama.cpp's best settings on this box at this moment (on a shared, overloaded box its spinning thread
// barriers can make 2 threads far slower than 1).
// With `nextTurnIds`, the one-stream run then times a chat's next turn as llama.cpp serves it from its own cache: the
// generated tokens are erased from the sequence (its prompt stays evaluated) and the new tokens are evaluated after
// the prompt, up to the first token.
//   bun bench/llama-cpp.ts '<LlamaJob JSON>'   (run by bench/contexts.ts)
import { getLlama, type LlamaModel, type Token } from "node-llama-cpp";
import { elapsedMs, now } from "./stats.ts";

export interface LlamaJob {
  gguf: string;
  promptIds: number[];
  tokens: number;
  streams: number[];
  threads: number;
  settings?: LlamaSettings;
  /** Tokens a next turn adds after the prompt (the one-stream run times them from the cached prompt). */
  nextTurnIds?: number[];
}

export interface LlamaSettings {
  threads: number;
  flashAttention: boolean;
}

export interface LlamaRun {
  streams: number;
  /** Median time to each stream's first token. */
  ttftMs: number;
  /** One stream's (tokens − 1) / (last − first token); with several streams, the median stream's. */
  decodeTps: number;
  /** All tokens / (last token of any stream − start), prompt included, as the server's aggregate. */
  aggregateTps: number;
  /** One stream: time to the first token of the next turn, its prompt reused from the sequence's own cache. */
  nextTurnTtftMs?: number;
}

export interface LlamaResult {
  settings: LlamaSettings;
  runs: LlamaRun[];
}

async function run(model: LlamaModel, job: LlamaJob, streams: number, settings: LlamaSettings): Promise<LlamaRun> {
  const context = await model.createContext({ sequences: streams, contextSize: 1024 * streams, ...settings });
  try {
    const start = now();
    const sequences = Array.from({ length: streams }, () => context.getSequence());
    const timings = await Promise.all(
      sequences.map(async (sequence, s) => {
        // Distinct prompts (their first token differs), so no stream can share another's cache.
        const prompt = job.promptIds.map((id, i) => (i === 0 && streams > 1 ? 1000 + s : id)) as Token[];
        const stamps: number[] = [];
        for await (const _token of sequence.evaluate(prompt, { temperature: 0 })) {
          stamps.push(now());
          if (stamps.length >= job.tokens) break;
        }
        return stamps;
      }),
    );
    let nextTurnTtftMs: number | undefined;
    if (streams === 1 && job.nextTurnIds) {
      const sequence = sequences[0]!;
      // The reply is erased, the prompt stays: the next turn evaluates its new tokens after it.
      await sequence.eraseContextTokenRanges([{ start: job.promptIds.length, end: sequence.nextTokenIndex }]);
      const t0 = now();
      for await (const _token of sequence.evaluate(job.nextTurnIds as Token[], { temperature: 0 })) {
        nextTurnTtftMs = elapsedMs(t0, now());
        break;
      }
    }
    const end = Math.max(...timings.map((t) => t.at(-1)!));
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return {
      streams,
      ttftMs: median(timings.map((t) => elapsedMs(start, t[0]!))),
      decodeTps: median(timings.map((t) => (t.length - 1) / (elapsedMs(t[0]!, t.at(-1)!) / 1000))),
      aggregateTps: (streams * job.tokens) / (elapsedMs(start, end) / 1000),
      nextTurnTtftMs,
    };
  } finally {
    await context.dispose();
  }
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? "") as LlamaJob;
  const llama = await getLlama({ build: "never", gpu: false, logLevel: "error" as never });
  const model = await llama.loadModel({ modelPath: job.gguf, gpuLayers: 0 });
  // Warm-up (pages the weights in), then the settings, then the runs.
  await run(model, { ...job, tokens: 4 }, 1, { threads: 1, flashAttention: false });
  let settings = job.settings;
  if (!settings) {
    const tries: { settings: LlamaSettings; tps: number }[] = [];
    for (const threads of new Set([1, job.threads])) {
      for (const flashAttention of [false, true]) {
        const trial = { threads, flashAttention };
        tries.push({ settings: trial, tps: (await run(model, { ...job, tokens: 8 }, 1, trial)).decodeTps });
      }
    }
    settings = tries.reduce((a, b) => (b.tps > a.tps ? b : a)).settings;
  }
  const runs: LlamaRun[] = [];
  for (const streams of job.streams) runs.push(await run(model, job, streams, settings));
  await model.dispose();
  const result: LlamaResult = { settings, runs };
  console.log(JSON.stringify(result));
}

// Command-line options of `bun run bench`.

export const MODEL_KEYS = ["tiny", "bench-fp32", "bench-int8"] as const;
export type ModelKey = (typeof MODEL_KEYS)[number];

export interface BenchOptions {
  models: ModelKey[];
  /** New tokens per stream; undefined: each model's default (tiny 96, bench 128; 32 with --quick). */
  tokens?: number;
  /** ONNX Runtime intra-op threads for every row (server `--threads`, raw loop, transformers.js). */
  threads: number;
  /** Concurrency levels of the HTTP sweep. */
  streams: number[];
  /** Prompt lengths of the long-context and next-turn table (empty: none). */
  contexts: number[];
  /** Batch of the raw batched loop (the limit for the aggregate at that many streams). */
  rawBatch: number;
  /** Interleaved rounds of the headline measurements; each path reports its best round. */
  rounds: number;
  leakRequests: number;
  leakCheckpoint: number;
  quick: boolean;
  /** Measure dist/gpt3dev instead of the source. */
  binary: boolean;
  /** Measure the source of this git commit instead of the working tree. */
  serverRef?: string;
  transformers: boolean;
  /** Extra flags for every server the bench starts (e.g. --max-batch 16). */
  serverArgs: string[];
  /** The memory table (bench/memory-table.ts): on unless --quick, --no-memory or only the tiny model. */
  memory: boolean;
  /** Where results.json goes. */
  out: string;
  help: boolean;
}

export const USAGE = `usage: bun run bench [options]

  --quick                 tiny model only, small counts (well under a minute)
  --models a,b            any of ${MODEL_KEYS.join(", ")} (default: all three)
  --tokens N              new tokens per stream (default: tiny 96, bench models 128; --quick 32)
  --threads N             ONNX Runtime intra-op threads everywhere (default: number of cores)
  --streams 1,2,4,8,16    concurrency levels of the HTTP sweep
  --contexts 32,896       also measure prompts of these lengths on the bench models: raw loop and gpt3dev TTFT and
                          decode rate, and a chat's next turn (the prompt again + 16 tokens) from the prefix cache
  --rounds N              interleaved rounds of raw loop / transformers.js / 1 and 8 streams, best
                          round reported (default 3; --quick 1)
  --leak-requests N       mixed requests for the RSS check on the tiny model (default 1000; --quick 300)
  --no-transformers       skip the transformers.js generate() row
  --no-memory             skip the memory table (fp32, int8, q4 and fp16 files, fp16 also with its weights kept
                          fp16; the server beside a bare ORT session, decode speed, two replicas' PSS; ≈ 5–10 min;
                          bench/server-memory.ts runs it alone)
  --binary                measure dist/gpt3dev instead of bun src/main.ts
  --server-ref REF        measure the source of a git commit (exported to a temporary folder)
  --server-args "..."     extra flags for the server, e.g. "--max-batch 16" (default: none, the server's defaults)
  --out FILE              results file (default bench/results.json)
`;

export class ArgsError extends Error {}

function positiveInt(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new ArgsError(`${flag}: expected a positive integer, got '${text}'`);
  return Number(text);
}

function intList(flag: string, text: string): number[] {
  const list = text.split(",").map((s) => positiveInt(flag, s.trim()));
  return [...new Set(list)].sort((a, b) => a - b);
}

export function parseArgs(argv: readonly string[], cores: number, defaultOut: string): BenchOptions {
  const opts: BenchOptions = {
    models: [...MODEL_KEYS],
    threads: cores,
    streams: [1, 2, 4, 8, 16],
    contexts: [],
    rawBatch: 8,
    rounds: 3,
    leakRequests: 1000,
    leakCheckpoint: 100,
    quick: false,
    binary: false,
    transformers: true,
    serverArgs: [],
    memory: true,
    out: defaultOut,
    help: false,
  };
  let models: ModelKey[] | undefined;
  let leakRequests: number | undefined;
  let rounds: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      const v = eq > 0 && arg.startsWith("--") ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined || v === "") throw new ArgsError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--quick":
        opts.quick = true;
        break;
      case "--models":
        models = value().split(",").map((m) => m.trim()).filter(Boolean).map((m) => {
          if (!(MODEL_KEYS as readonly string[]).includes(m)) throw new ArgsError(`--models: unknown model '${m}' (known: ${MODEL_KEYS.join(", ")})`);
          return m as ModelKey;
        });
        if (models.length === 0) throw new ArgsError("--models: empty list");
        break;
      case "--tokens":
        opts.tokens = positiveInt(flag, value());
        break;
      case "--threads":
        opts.threads = positiveInt(flag, value());
        break;
      case "--streams":
        opts.streams = intList(flag, value());
        break;
      case "--contexts":
        opts.contexts = intList(flag, value());
        break;
      case "--rounds":
        rounds = positiveInt(flag, value());
        break;
      case "--leak-requests":
        leakRequests = positiveInt(flag, value());
        break;
      case "--no-transformers":
        opts.transformers = false;
        break;
      case "--no-memory":
        opts.memory = false;
        break;
      case "--binary":
        opts.binary = true;
        break;
      case "--server-ref":
        opts.serverRef = value();
        break;
      case "--server-args":
        opts.serverArgs = value().split(/\s+/).filter(Boolean);
        break;
      case "--out":
        opts.out = value();
        break;
      case "--help":
      case "-h":
        opts.help = true;
        break;
      default:
        throw new ArgsError(`unknown argument '${arg}'`);
    }
  }
  if (opts.binary && opts.serverRef) throw new ArgsError("--binary and --server-ref exclude each other");
  opts.models = models ? MODEL_KEYS.filter((k) => models.includes(k)) : opts.quick ? ["tiny"] : opts.models;
  opts.rounds = rounds ?? (opts.quick ? 1 : 3);
  opts.memory = opts.memory && !opts.quick && opts.models.some((k) => k !== "tiny");
  opts.leakRequests = leakRequests ?? (opts.quick ? 300 : 1000);
  opts.leakCheckpoint = Math.min(100, Math.floor(opts.leakRequests / 2));
  return opts;
}

/** New tokens per stream for a model whose context holds `context` positions after a `prompt`-token prompt. */
export function tokensFor(opts: BenchOptions, key: ModelKey, context: number, prompt: number): number {
  const wanted = opts.tokens ?? (opts.quick ? 32 : key === "tiny" ? 96 : 128);
  return Math.max(1, Math.min(wanted, context - prompt));
}

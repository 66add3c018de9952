/** The command-line flags: each with its env twin, help text and default as shown in --help and the README. */

export interface Option {
  flag: string;
  env: string;
  type: "string" | "boolean";
  multiple?: boolean;
  description: string;
  defaultText: string;
}

export const OPTIONS: readonly Option[] = [
  { flag: "port", env: "GPT3DEV_PORT", type: "string", description: "TCP port to listen on", defaultText: "7860" },
  { flag: "host", env: "GPT3DEV_HOST", type: "string", description: "address to bind", defaultText: "0.0.0.0" },
  {
    flag: "models-dir",
    env: "GPT3DEV_MODELS_DIR",
    type: "string",
    description: "folder with one sub-folder per model (Hugging Face / Optimum ONNX layout)",
    defaultText: "models/ beside the executable",
  },
  {
    flag: "registry",
    env: "MODEL_REGISTRY_PATH",
    type: "string",
    description: "JSON or YAML file listing extra models and per-model settings",
    defaultText: "none",
  },
  {
    flag: "allow-models",
    env: "MODEL_ALLOW_LIST",
    type: "string",
    description: "comma-separated model ids to serve (others are hidden)",
    defaultText: "all",
  },
  {
    flag: "max-loaded-models",
    env: "GPT3DEV_MAX_LOADED_MODELS",
    type: "string",
    description: "models kept in memory at once, counted apart for text generation and for other kinds; the least recently used is unloaded",
    defaultText: "2",
  },
  {
    flag: "keep-alive",
    env: "GPT3DEV_KEEP_ALIVE",
    type: "string",
    description: "how long an idle model stays loaded (seconds, or e.g. 5m, 1h; negative: for ever); a registry entry's keep_alive wins",
    defaultText: "-1 (for ever)",
  },
  {
    flag: "threads",
    env: "GPT3DEV_THREADS",
    type: "string",
    description: "ONNX Runtime intra-op threads per model (0 = one per core)",
    defaultText: "0",
  },
  {
    flag: "auxiliary-threads",
    env: "GPT3DEV_AUXILIARY_THREADS",
    type: "string",
    description: "ONNX Runtime intra-op threads per model in the auxiliary worker (embeddings, moderation), which runs beside decoding (0 = one per core)",
    defaultText: "1",
  },
  {
    flag: "auxiliary-nice",
    env: "GPT3DEV_AUXILIARY_NICE",
    type: "string",
    description: "niceness (0-19) of the auxiliary worker's threads, so decoding wins the cores they compete for (0: equal)",
    defaultText: "10",
  },
  {
    flag: "ort-spinning",
    env: "GPT3DEV_ORT_SPINNING",
    type: "string",
    description: "on: ONNX Runtime threads spin during a step and sleep between steps (faster on a dedicated box); off: never spin",
    defaultText: "off",
  },
  {
    flag: "ort-outputs",
    env: "GPT3DEV_ORT_OUTPUTS",
    type: "string",
    description: "in-place: text models run through ONNX Runtime's C API, which writes the KV cache and logits into the server's buffers; copied: through onnxruntime-node, which copies every output after each step",
    defaultText: "in-place",
  },
  {
    flag: "attention",
    env: "GPT3DEV_ATTENTION",
    type: "string",
    description: "fused: text models' attention runs as ONNX Runtime's GroupQueryAttention over a KV cache each step extends in place (rewritten at load); exported: as the model file computes it, concatenating the whole cache every step",
    defaultText: "fused",
  },
  {
    flag: "ort-arena",
    env: "GPT3DEV_ORT_ARENA",
    type: "string",
    description: "on: ONNX Runtime keeps the memory of a step's intermediate tensors for the next step (its CPU arena); off: allocates and frees them every step",
    defaultText: "on",
  },
  {
    flag: "graph-optimization",
    env: "GPT3DEV_GRAPH_OPTIMIZATION",
    type: "string",
    description: "ONNX Runtime graph optimisation level: disabled, basic, extended or all",
    defaultText: "all",
  },
  {
    flag: "cache-dir",
    env: "GPT3DEV_CACHE_DIR",
    type: "string",
    description: "folder for model graphs rewritten at load time to use less memory; 'none' opens models as they are",
    defaultText: "$CACHE_DIRECTORY (systemd), else $XDG_CACHE_HOME/gpt3dev or ~/.cache/gpt3dev",
  },
  {
    flag: "prepack-weights",
    env: "GPT3DEV_PREPACK_WEIGHTS",
    type: "string",
    description: "on: ONNX Runtime keeps a pre-packed copy of matrix weights (faster); off: the weights once (less memory)",
    defaultText: "on",
  },
  {
    flag: "packed-weights",
    env: "GPT3DEV_PACKED_WEIGHTS",
    type: "string",
    description: "file: a text model's pre-packed weights are saved once in the cache folder and mapped by every later load (replicas share them, loads skip the packing); heap: packed again at every load into the server's own memory",
    defaultText: "file",
  },
  {
    flag: "fp16-weights",
    env: "GPT3DEV_FP16_WEIGHTS",
    type: "string",
    description: "float32: a text model's fp16 matrix weights are widened to fp32 once at load (twice the file in memory, faster decoding: ONNX Runtime has no fp16 matrix kernels for x86 CPUs); float16: they stay fp16 and are widened at each step (about the file in memory); auto: float32 unless the widened weights would take more than half the memory free as the model loads",
    defaultText: "auto",
  },
  {
    flag: "max-batch",
    env: "GPT3DEV_MAX_BATCH",
    type: "string",
    description: "sequences a model decodes together in one step (continuous batching)",
    defaultText: "8",
  },
  {
    flag: "max-queue",
    env: "GPT3DEV_MAX_QUEUE",
    type: "string",
    description: "requests that may wait per model for a place in the batch; beyond it 429 with Retry-After",
    defaultText: "64",
  },
  {
    flag: "prefill-chunk",
    env: "GPT3DEV_PREFILL_CHUNK",
    type: "string",
    description: "prompt tokens per prefill run; longer prompts are split and interleaved with decode steps",
    defaultText: "256",
  },
  {
    flag: "prefix-cache-mb",
    env: "GPT3DEV_PREFIX_CACHE_MB",
    type: "string",
    description: "memory per loaded model for the keys and values of recent prompts, reused by prompts that start the same way (also within what running sequences leave of --kv-cache-memory); 0 turns it off",
    defaultText: "256",
  },
  {
    flag: "kv-cache-memory",
    env: "GPT3DEV_KV_CACHE_MEMORY",
    type: "string",
    description:
      "key/value cache each loaded model's running sequences and cached prefixes may hold (prompt + max_tokens reserved per sequence; the rest queue; cached prefixes give way): bytes (512MiB, 2G) or a share of RAM (25%); 'none' for no limit",
    defaultText: "25%",
  },
  {
    flag: "shutdown-grace-seconds",
    env: "GPT3DEV_SHUTDOWN_GRACE_SECONDS",
    type: "string",
    description: "on SIGTERM/SIGINT, time in-flight requests (streams too) get to finish; 0 cuts them at once",
    defaultText: "30",
  },
  {
    flag: "api-key",
    env: "API_KEYS",
    type: "string",
    multiple: true,
    description: "key clients must send (Bearer or x-api-key); repeatable; the env twin is a comma-separated list",
    defaultText: "none: the server is open",
  },
  {
    flag: "api-key-file",
    env: "GPT3DEV_API_KEY_FILE",
    type: "string",
    description: "file with one key per line (# comments), re-read on SIGHUP",
    defaultText: "none",
  },
  {
    flag: "cors-allow-origins",
    env: "CORS_ALLOW_ORIGINS",
    type: "string",
    description: "comma-separated origins allowed to call from a browser ('*' for any); empty sends no CORS headers",
    defaultText: "none",
  },
  {
    flag: "log-format",
    env: "GPT3DEV_LOG_FORMAT",
    type: "string",
    description: "log lines as plain text or as one JSON object per line: plain or json",
    defaultText: "plain",
  },
  {
    flag: "log-level",
    env: "GPT3DEV_LOG_LEVEL",
    type: "string",
    description: "least severe lines written: debug, info (one line per request), warn or error",
    defaultText: "info",
  },
  {
    flag: "log-prompts",
    env: "GPT3DEV_LOG_PROMPTS",
    type: "boolean",
    description: "include prompt and completion text in request log lines (never by default)",
    defaultText: "off",
  },
  {
    flag: "request-chat-templates",
    env: "GPT3DEV_REQUEST_CHAT_TEMPLATES",
    type: "string",
    description: "on: chat requests may send their own Jinja chat_template; off: refused (chat_template_kwargs still work)",
    defaultText: "on",
  },
  {
    flag: "metrics-public",
    env: "GPT3DEV_METRICS_PUBLIC",
    type: "boolean",
    description: "serve /metrics without an API key even when keys are set",
    defaultText: "off",
  },
  ...limitOptions([
    ["max-body-bytes", "largest request body accepted", "8388608"],
    ["max-audio-bytes", "largest audio upload (multipart body) accepted, OpenAI's 25 MB by default", "26214400"],
    ["max-tokens-cap", "largest max_tokens / max_completion_tokens a request may ask for", "4096"],
    ["max-n", "largest n (and best_of) a request may ask for", "16"],
    ["max-prompts", "most prompts in one completions request", "64"],
    ["max-prompt-chars", "longest prompt (or chat conversation) in characters", "1000000"],
    ["max-embedding-inputs", "most inputs in one embeddings request", "2048"],
    ["max-stop-sequences", "most stop sequences in one request", "4"],
    ["max-stop-chars", "longest stop sequence in characters", "256"],
    ["request-timeout-seconds", "longest time one generation may run before it is cut off", "600"],
  ]),
  { flag: "help", env: "", type: "boolean", description: "print this help and exit", defaultText: "" },
  { flag: "version", env: "", type: "boolean", description: "print versions and exit", defaultText: "" },
];

function limitOptions(rows: Array<[flag: string, description: string, defaultText: string]>): Option[] {
  return rows.map(([flag, description, defaultText]) => ({
    flag,
    env: `GPT3DEV_${flag.toUpperCase().replaceAll("-", "_")}`,
    type: "string",
    description,
    defaultText,
  }));
}

import { describe, expect, it } from "bun:test";
import { resolve } from "node:path";
import { OPTIONS } from "../src/config-options.ts";
import { ConfigError, helpText, parseCli } from "../src/config.ts";

describe("parseCli", () => {
  it("puts rewritten graphs in the flag's folder, else systemd's cache folder, else the XDG or home cache; 'none' turns it off", () => {
    const dir = (argv: string[], env: Record<string, string>) => {
      const result = parseCli(argv, env);
      if (result.kind !== "run") throw new Error("expected run");
      return result.config.cacheDir;
    };
    const env = { HOME: "/home/u", XDG_CACHE_HOME: "/xdg", CACHE_DIRECTORY: "/var/cache/gpt3dev" };
    expect(dir(["--cache-dir", "/c"], env)).toBe("/c");
    expect(dir([], { ...env, GPT3DEV_CACHE_DIR: "/e" })).toBe("/e");
    expect(dir([], env)).toBe("/var/cache/gpt3dev");
    expect(dir([], { HOME: "/home/u", XDG_CACHE_HOME: "/xdg" })).toBe("/xdg/gpt3dev");
    expect(dir([], { HOME: "/home/u" })).toBe("/home/u/.cache/gpt3dev");
    expect(dir(["--cache-dir", "none"], env)).toBeUndefined();
    const prepack = (argv: string[], e: Record<string, string> = {}) => {
      const result = parseCli(argv, e);
      if (result.kind !== "run") throw new Error("expected run");
      return result.config.prepackWeights;
    };
    expect(prepack([])).toBe(true);
    expect(prepack(["--prepack-weights", "off"])).toBe(false);
    expect(prepack([], { GPT3DEV_PREPACK_WEIGHTS: "off" })).toBe(false);
    expect(() => prepack(["--prepack-weights", "no"])).toThrow("--prepack-weights: expected one of on, off");
    expect(dir([], {})).toBeUndefined();
  });

  it("reads --kv-cache-memory as bytes or a share of RAM, 'none' for no limit, and names the flag when it is wrong", () => {
    const kv = (argv: string[], env: Record<string, string> = {}) => {
      const result = parseCli(argv, env);
      if (result.kind !== "run") throw new Error("expected run");
      return result.config.scheduler.kvCacheBytes;
    };
    expect(kv(["--kv-cache-memory", "512MiB"])).toBe(512 * 1024 ** 2);
    expect(kv([], { GPT3DEV_KV_CACHE_MEMORY: "2G" })).toBe(2 * 1024 ** 3);
    expect(kv(["--kv-cache-memory", "none"])).toBeUndefined();
    const quarter = kv([])!;
    expect(kv(["--kv-cache-memory", "50%"])).toBe(Math.floor((quarter * 100) / 25 / 2));
    expect(() => kv(["--kv-cache-memory", "lots"])).toThrow("--kv-cache-memory: expected bytes");
    expect(() => kv([], { GPT3DEV_KV_CACHE_MEMORY: "0" })).toThrow("--kv-cache-memory");
  });

  it("uses the documented defaults", () => {
    const result = parseCli([], {});
    if (result.kind !== "run") throw new Error("expected run");
    expect(result.config).toEqual({
      port: 7860,
      host: "0.0.0.0",
      modelsDir: resolve(import.meta.dir, "..", "models"),
      registryPath: undefined,
      allowList: [],
      maxLoadedModels: 2,
      intraOpThreads: 0,
      auxiliaryIntraOpThreads: 1,
      auxiliaryNice: 10,
      graphOptimization: "all",
      prepackWeights: true,
      packedWeightsFile: true,
      spinning: false,
      inPlaceOutputs: true,
      fusedAttention: true,
      fp16Weights: "auto",
      tiedHead: "auto",
      memoryArena: true,
      scheduler: { maxBatch: 8, maxQueue: 64, prefillChunk: 256, prefixCacheBytes: 256 * 2 ** 20, kvCacheBytes: expect.any(Number) },
      shutdownGraceSeconds: 30,
      apiKeys: [],
      apiKeyFile: undefined,
      corsAllowOrigins: [],
      limits: {
        maxBodyBytes: 8 * 1024 * 1024,
        maxAudioBytes: 25 * 1024 * 1024,
        maxTokens: 4096,
        maxN: 16,
        maxPrompts: 64,
        maxPromptChars: 1_000_000,
        maxEmbeddingInputs: 2048,
        maxStopSequences: 4,
        maxStopChars: 256,
        requestTimeoutSeconds: 600,
        requestChatTemplates: true,
      },
      log: { format: "plain", level: "info", prompts: false },
      metricsPublic: false,
    });
  });

  it("reads the log and metrics settings from flags or their env twins, and refuses unknown values", () => {
    const fromFlags = parseCli(["--log-format", "json", "--log-level", "warn", "--log-prompts", "--metrics-public"], {});
    const fromEnv = parseCli([], { GPT3DEV_LOG_FORMAT: "json", GPT3DEV_LOG_PROMPTS: "true", GPT3DEV_METRICS_PUBLIC: "0" });
    if (fromFlags.kind !== "run" || fromEnv.kind !== "run") throw new Error("expected run");
    expect(fromFlags.config.log).toEqual({ format: "json", level: "warn", prompts: true });
    expect(fromFlags.config.metricsPublic).toBe(true);
    expect(fromEnv.config.log).toEqual({ format: "json", level: "info", prompts: true });
    expect(fromEnv.config.metricsPublic).toBe(false);
    expect(() => parseCli(["--log-format", "xml"], {})).toThrow("--log-format: expected one of plain, json, got 'xml'");
    expect(() => parseCli([], { GPT3DEV_LOG_PROMPTS: "maybe" })).toThrow("GPT3DEV_LOG_PROMPTS: expected true or false");
  });

  it("takes API keys from a repeated flag or a comma-separated env list, and CORS origins as a list", () => {
    const fromFlags = parseCli(["--api-key", "k1", "--api-key", "k2"], { API_KEYS: "ignored" });
    const fromEnv = parseCli([], { API_KEYS: " a, b ,,", CORS_ALLOW_ORIGINS: "https://x.test, https://y.test" });
    if (fromFlags.kind !== "run" || fromEnv.kind !== "run") throw new Error("expected run");
    expect(fromFlags.config.apiKeys).toEqual(["k1", "k2"]);
    expect(fromEnv.config.apiKeys).toEqual(["a", "b"]);
    expect(fromEnv.config.corsAllowOrigins).toEqual(["https://x.test", "https://y.test"]);
    expect(() => parseCli(["--api-key-file", "/no/such/keys"], {})).toThrow("--api-key-file: file not found");
  });

  it("refuses a --models-dir that is not a folder, naming it, unless a registry may hold every model", () => {
    expect(() => parseCli(["--models-dir", "/no/such/models"], {})).toThrow(new ConfigError("--models-dir: folder not found: /no/such/models"));
    expect(() => parseCli([], { GPT3DEV_MODELS_DIR: "/no/such/models" })).toThrow("--models-dir: folder not found: /no/such/models");
    expect(() => parseCli(["--models-dir", import.meta.path], {})).toThrow(`--models-dir: folder not found: ${import.meta.path}`);
    const withRegistry = parseCli(["--models-dir", "/no/such/models", "--registry", import.meta.path], {});
    expect(withRegistry.kind === "run" && withRegistry.config.modelsDir).toBe("/no/such/models");
  });

  it("reads every limit from its flag or env twin and refuses out-of-range values", () => {
    const result = parseCli(["--max-n", "4"], { GPT3DEV_MAX_TOKENS_CAP: "100", GPT3DEV_REQUEST_TIMEOUT_SECONDS: "5" });
    if (result.kind !== "run") throw new Error("expected run");
    expect(result.config.limits).toMatchObject({ maxN: 4, maxTokens: 100, requestTimeoutSeconds: 5 });
    expect(() => parseCli(["--max-n", "500"], {})).toThrow("--max-n: expected an integer from 1 to 128");
    expect(() => parseCli([], { GPT3DEV_MAX_BODY_BYTES: "1k" })).toThrow("--max-body-bytes");
  });

  it("reads the batching and ONNX Runtime settings from flags or env twins", () => {
    const result = parseCli(["--max-batch", "4", "--graph-optimization", "basic"], {
      GPT3DEV_MAX_QUEUE: "0",
      GPT3DEV_PREFILL_CHUNK: "32",
      GPT3DEV_MAX_BATCH: "16",
      GPT3DEV_PREFIX_CACHE_MB: "0",
    });
    if (result.kind !== "run") throw new Error("expected run");
    expect(result.config.scheduler).toEqual({ maxBatch: 4, maxQueue: 0, prefillChunk: 32, prefixCacheBytes: 0, kvCacheBytes: expect.any(Number) });
    const sized = parseCli(["--prefix-cache-mb", "64"], {});
    if (sized.kind !== "run") throw new Error("expected run");
    expect(sized.config.scheduler.prefixCacheBytes).toBe(64 * 1024 * 1024);
    const spinning = parseCli(["--ort-spinning", "on"], {});
    if (spinning.kind !== "run") throw new Error("expected run");
    expect(spinning.config.spinning).toBe(true);
    expect(() => parseCli([], { GPT3DEV_ORT_SPINNING: "yes" })).toThrow("--ort-spinning: expected one of on, off, got 'yes'");
    const copied = parseCli(["--ort-outputs", "copied"], {});
    if (copied.kind !== "run") throw new Error("expected run");
    expect(copied.config.inPlaceOutputs).toBe(false);
    const arena = parseCli(["--ort-arena", "off"], {});
    if (arena.kind !== "run") throw new Error("expected run");
    expect(arena.config.memoryArena).toBe(false);
    const exported = parseCli(["--attention", "exported"], {});
    if (exported.kind !== "run") throw new Error("expected run");
    expect(exported.config.fusedAttention).toBe(false);
    const heap = parseCli(["--packed-weights", "heap"], {});
    if (heap.kind !== "run") throw new Error("expected run");
    expect(heap.config.packedWeightsFile).toBe(false);
    const file = parseCli([], { GPT3DEV_PACKED_WEIGHTS: "file" });
    if (file.kind !== "run") throw new Error("expected run");
    expect(file.config.packedWeightsFile).toBe(true);
    const half = parseCli(["--fp16-weights", "float16"], {});
    if (half.kind !== "run") throw new Error("expected run");
    expect(half.config.fp16Weights).toBe("float16");
    const widened = parseCli([], { GPT3DEV_FP16_WEIGHTS: "float32" });
    if (widened.kind !== "run") throw new Error("expected run");
    expect(widened.config.fp16Weights).toBe("float32");
    expect(() => parseCli(["--fp16-weights", "bf16"], {})).toThrow("--fp16-weights: expected one of auto, float32, float16, got 'bf16'");
    expect(() => parseCli(["--fp16-weights", "float16", "--cache-dir", "none"], {})).toThrow("it cannot be used with --cache-dir none");
    expect(() => parseCli([], { GPT3DEV_FP16_WEIGHTS: "float16", GPT3DEV_CACHE_DIR: "none" })).toThrow("--fp16-weights float16");
    const tied = (argv: string[], env: Record<string, string>) => {
      const parsed = parseCli(argv, env);
      if (parsed.kind !== "run") throw new Error("expected run");
      return parsed.config.tiedHead;
    };
    expect(tied(["--tied-head", "shared"], {})).toBe("shared");
    expect(tied([], { GPT3DEV_TIED_HEAD: "packed" })).toBe("packed");
    expect(tied([], {})).toBe("auto");
    expect(() => parseCli(["--tied-head", "both"], {})).toThrow("--tied-head: expected one of auto, packed, shared, got 'both'");
    expect(() => parseCli(["--tied-head", "shared", "--cache-dir", "none"], {})).toThrow("it cannot be used with --cache-dir none");
    const auto = parseCli(["--cache-dir", "none"], {});
    if (auto.kind !== "run") throw new Error("expected run");
    expect(auto.config.cacheDir).toBeUndefined();
    expect(() => parseCli([], { GPT3DEV_PACKED_WEIGHTS: "disk" })).toThrow("--packed-weights: expected one of file, heap, got 'disk'");
    expect(() => parseCli([], { GPT3DEV_ATTENTION: "flash" })).toThrow("--attention: expected one of fused, exported, got 'flash'");
    expect(() => parseCli([], { GPT3DEV_ORT_OUTPUTS: "direct" })).toThrow("--ort-outputs: expected one of in-place, copied, got 'direct'");
    expect(result.config.graphOptimization).toBe("basic");
    expect(() => parseCli(["--max-batch", "0"], {})).toThrow("--max-batch: expected an integer from 1 to 256");
    expect(() => parseCli([], { GPT3DEV_GRAPH_OPTIMIZATION: "max" })).toThrow(
      "--graph-optimization: expected one of disabled, basic, extended, all, got 'max'",
    );
  });

  it("prefers flags over their env twins", () => {
    const env = { GPT3DEV_PORT: "9000", GPT3DEV_HOST: "127.0.0.1", MODEL_ALLOW_LIST: "a, b" };
    const result = parseCli(["--port", "9100"], env);
    if (result.kind !== "run") throw new Error("expected run");
    expect(result.config.port).toBe(9100);
    expect(result.config.host).toBe("127.0.0.1");
    expect(result.config.allowList).toEqual(["a", "b"]);
  });

  it("rejects unknown flags and bad values with a clear message", () => {
    expect(() => parseCli(["--prot", "1"], {})).toThrow(ConfigError);
    expect(() => parseCli(["--port", "http"], {})).toThrow("--port: expected an integer from 0 to 65535, got 'http'");
    expect(() => parseCli(["--port", "70000"], {})).toThrow("--port");
    expect(() => parseCli([], { GPT3DEV_MAX_LOADED_MODELS: "0" })).toThrow("--max-loaded-models");
    expect(() => parseCli(["--registry", "/no/such/file.yaml"], {})).toThrow("file not found");
    expect(() => parseCli([], { GPT3DEV_SHUTDOWN_GRACE_SECONDS: "-1" })).toThrow("--shutdown-grace-seconds");
  });

  it("answers --help and --version", () => {
    expect(parseCli(["--help"], {})).toEqual({ kind: "help" });
    expect(parseCli(["--version"], {})).toEqual({ kind: "version" });
  });

  it("lists every flag and env variable in the help", () => {
    const help = helpText();
    for (const option of OPTIONS) {
      expect(help).toContain(`--${option.flag}`);
      if (option.env) expect(help).toContain(option.env);
    }
  });
});

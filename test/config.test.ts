import { describe, expect, it } from "bun:test";
import { resolve } from "node:path";
import { ConfigError, helpText, OPTIONS, parseCli } from "../src/config.ts";

describe("parseCli", () => {
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
      shutdownGraceSeconds: 30,
    });
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

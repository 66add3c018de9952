import type { LogFormat, LogLevel, LogSettings } from "../config.ts";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | null | undefined>;

/**
 * The server's log: one line per event, plain (`[gpt3dev] message key=value …`) or one JSON object per line for log
 * collectors. Lines below the configured level are dropped; warnings and errors go to stderr.
 */
export class Logger {
  readonly format: LogFormat;
  readonly level: LogLevel;
  /** Whether request lines may carry prompt and completion text (`--log-prompts`). */
  readonly prompts: boolean;

  constructor(
    settings: Partial<LogSettings> = {},
    private readonly write: (line: string, level: LogLevel) => void = defaultWrite,
  ) {
    this.format = settings.format ?? "plain";
    this.level = settings.level ?? "info";
    this.prompts = settings.prompts ?? false;
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.level];
  }

  debug(message: string, fields?: LogFields): void {
    this.log("debug", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log("info", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log("warn", message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log("error", message, fields);
  }

  log(level: LogLevel, message: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const defined = Object.entries(fields).filter(([, value]) => value !== undefined);
    if (this.format === "json") {
      const record = { time: new Date().toISOString(), level, msg: message, ...Object.fromEntries(defined) };
      this.write(JSON.stringify(record), level);
      return;
    }
    const pairs = defined.map(([key, value]) => `${key}=${plainValue(value)}`);
    this.write([`[gpt3dev] ${message}`, ...pairs].join(" "), level);
  }
}

/** Bare words stay bare; anything with spaces, quotes or `=` is quoted as JSON, so a line always splits cleanly. */
function plainValue(value: string | number | boolean | null | undefined): string {
  const text = String(value);
  return typeof value === "string" && (text === "" || /[\s"=]/.test(text)) ? JSON.stringify(text) : text;
}

function defaultWrite(line: string, level: LogLevel): void {
  if (RANK[level] >= RANK.warn) console.error(line);
  else console.log(line);
}

/** Where an error message is enough; the stack only at debug level. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * How long an idle model stays loaded, as Ollama's `keep_alive` spells it: seconds as a number, or a duration
 * string ("90s", "5m", "1h", "1h30m", "500ms"); a negative value means for ever, 0 unloads it as soon as its last
 * request ends. Returns milliseconds, or null for "for ever".
 */
export function parseKeepAlive(value: unknown): number | null {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`keep-alive must be a finite number of seconds, got ${value}`);
    return value < 0 ? null : Math.round(value * 1000);
  }
  if (typeof value !== "string") throw new Error("keep-alive must be a number of seconds or a duration such as '5m'");
  const text = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return parseKeepAlive(Number(text));
  if (text.startsWith("-")) return null;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
    throw new Error(`keep-alive '${value}' is not a duration (seconds, or e.g. '90s', '5m', '1h30m'; negative: for ever)`);
  }
  return Math.round(parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit!]!, 0));
}

/**
 * The idle time after which a model is unloaded: its own setting (null: never) wins over the server's default;
 * undefined: never.
 */
export function keepAliveFor(own: number | null | undefined, serverDefault: number | undefined): number | undefined {
  return own === null ? undefined : (own ?? serverDefault);
}

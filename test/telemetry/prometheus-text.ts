/** Reads Prometheus' text format into `name{label="v",…}` → value, labels sorted so keys are stable. */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const [, name, labelText, value] = match;
    const labels = [...(labelText ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, key, v]) => `${key}="${v}"`)
      .sort();
    samples.set(labels.length > 0 ? `${name}{${labels.join(",")}}` : name!, Number(value));
  }
  return samples;
}

/** The value of one sample (0 when absent, as a counter that has not moved yet). */
export function sample(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  const parts = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort();
  return samples.get(parts.length > 0 ? `${name}{${parts.join(",")}}` : name) ?? 0;
}

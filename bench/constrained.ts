// Per-token cost of constrained decoding: the same chat request on the same model with and without a JSON schema,
// interleaved, streamed over HTTP from the real server; decode tok/s = (tokens − 1) / (last − first content chunk). Run by `bun run bench` (its "Constrained decoding" table) or alone:
// `bun bench/constrained.ts [--rounds N]`.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, serverTarget, startBenchServer, type ServerTarget } from "./server.ts";
import { markdownTable, num } from "./table.ts";

export interface ConstrainedRow {
  model: string;
  vocab: number;
  /** "plain", "json_schema (masks cached)", "json_schema (first use)". */
  mode: string;
  requests: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
}

const TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}<|assistant|>";
const MESSAGES = [{ role: "user", content: "List some notes." }];
const MAX_TOKENS = 96;
/** Long instances: an array of free strings, so the output runs long like plain text does. */
const SCHEMA = {
  type: "object",
  properties: { notes: { type: "array", items: { type: "string" } } },
  required: ["notes"],
  additionalProperties: false,
};
/** The real GPT-2 vocabulary on a tiny network: the mask's cost shows, the model's barely hides it. */
const MODELS = [{ id: "gpt2-chat", vocab: 50257 }];

/**
 * One streamed request: its completion tokens, and the time from the first to the last content chunk (decoding
 * alone, without the request's fixed costs, which would weigh more on the shorter constrained outputs).
 */
async function chat(baseURL: string, model: string, seed: number, schema?: unknown): Promise<{ tokens: number; seconds: number }> {
  const body = {
    model,
    messages: MESSAGES,
    max_tokens: MAX_TOKENS,
    temperature: 1,
    seed,
    stream: true,
    stream_options: { include_usage: true },
    ...(schema ? { response_format: { type: "json_schema", json_schema: { name: "notes", schema } } } : {}),
  };
  const response = await fetch(`${baseURL}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`bench request failed: ${response.status} ${await response.text()}`);
  let first = 0;
  let last = 0;
  let text = "";
  let tokens = 0;
  let buffer = "";
  const decoder = new TextDecoder();
  for await (const bytes of response.body!) {
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const data = buffer.slice(6, end);
      buffer = buffer.slice(end + 2);
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data) as { choices: { delta: { content?: string } }[]; usage?: { completion_tokens: number } | null };
      const piece = chunk.choices[0]?.delta.content;
      if (piece) {
        last = performance.now();
        if (!first) first = last;
        text += piece;
      }
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  if (schema && tokens < MAX_TOKENS) JSON.parse(text); // a finished constrained output is complete JSON
  return { tokens: tokens - 1, seconds: (last - first) / 1000 };
}

export async function measureConstrained(target: ServerTarget, rounds: number, log: (line: string) => void): Promise<ConstrainedRow[]> {
  const dir = mkdtempSync(join(tmpdir(), "gpt3dev-bench-constrained-"));
  const registry = join(dir, "registry.json");
  writeFileSync(registry, JSON.stringify({ models: [{ name: "gpt2-chat", path: join(REPO_ROOT, "models", "gpt2-vocab"), chat_template: TEMPLATE }] }));
  const server = await startBenchServer(target, ["--registry", registry]);
  const rows: ConstrainedRow[] = [];
  try {
    for (const m of MODELS) {
      log(`constrained decoding on ${m.id}`);
      // Loads the model and builds its token trie, outside the timings.
      await chat(server.baseURL, m.id, 0);
      await chat(server.baseURL, m.id, 0, { ...SCHEMA, description: "warm-up" });
      const sums = new Map<string, { requests: number; tokens: number; seconds: number }>();
      const add = (mode: string, r: { tokens: number; seconds: number }) => {
        const s = sums.get(mode) ?? { requests: 0, tokens: 0, seconds: 0 };
        sums.set(mode, { requests: s.requests + 1, tokens: s.tokens + r.tokens, seconds: s.seconds + r.seconds });
      };
      for (let round = 0; round < rounds; round++) {
        for (let seed = 1; seed <= 3; seed++) {
          add("plain", await chat(server.baseURL, m.id, seed));
          add("json_schema (masks cached)", await chat(server.baseURL, m.id, seed, SCHEMA));
          // A schema never seen before: its grammar is compiled and each state's mask computed on first use.
          add("json_schema (first use)", await chat(server.baseURL, m.id, seed, { ...SCHEMA, description: `${round}-${seed}` }));
        }
      }
      for (const [mode, s] of sums) rows.push({ model: m.id, vocab: m.vocab, mode, ...s, tokensPerSecond: s.tokens / s.seconds });
    }
  } finally {
    await server.stop();
  }
  return rows;
}

export function constrainedTable(rows: readonly ConstrainedRow[]): string {
  const plain = new Map(rows.filter((r) => r.mode === "plain").map((r) => [r.model, r]));
  const body = rows.map((r) => {
    const base = plain.get(r.model)!;
    const extraUs = (r.seconds / r.tokens - base.seconds / base.tokens) * 1e6;
    return [r.model, String(r.vocab), r.mode, String(r.requests), String(r.tokens), num(r.tokensPerSecond), num(r.tokensPerSecond / base.tokensPerSecond, 2), r === base ? "–" : num(extraUs, 0)];
  });
  return markdownTable(["model", "vocab", "request", "requests", "tokens", "decode tok/s", "× plain", "µs/token added"], body, ["left", "right", "left", "right", "right", "right", "right", "right"]);
}

if (import.meta.main) {
  const at = process.argv.indexOf("--rounds");
  const rounds = at >= 0 ? Number(process.argv[at + 1]) : 2;
  const rows = await measureConstrained(await serverTarget({ binary: false }), rounds, (l) => console.error(`[bench] ${l}`));
  console.log(`## Constrained decoding (chat, ${MAX_TOKENS} tokens max, temperature 1)\n\n${constrainedTable(rows)}`);
}

/**
 * Seeded generator of hostile request bodies for every POST route: valid requests (cheap: one token), valid
 * requests with one field replaced by a hostile value, broken JSON text, invalid UTF-8, deep nesting, oversize
 * bodies and wrong content types. The same seed gives the same cases, so a failure can be replayed.
 */
import { Prng } from "../../scripts/fixtures/prng.ts";

export interface FuzzCase {
  route: string;
  kind: string;
  body: Uint8Array;
  /** undefined: no content-type header at all. */
  contentType: string | undefined;
}

/** A valid, cheap request per route; every mutation starts from one of these. */
export const BASE_BODIES: Record<string, () => Record<string, unknown>> = {
  "/v1/completions": () => ({ model: "tiny-gpt2", prompt: "Hello there", max_tokens: 1 }),
  "/v1/chat/completions": () => ({ model: "tiny-llama", messages: [{ role: "user", content: "Hi" }], max_tokens: 1 }),
  "/v1/embeddings": () => ({ model: "tiny-bert", input: "hello world" }),
  "/tokenize": () => ({ model: "tiny-gpt2", prompt: "hello" }),
  "/detokenize": () => ({ model: "tiny-gpt2", tokens: [31, 32, 33] }),
};

export const FUZZ_ROUTES = Object.keys(BASE_BODIES);

/** Fields worth attacking per route, known to the schema or not; dotted paths reach into nested values. */
const FIELDS: Record<string, string[]> = {
  "/v1/completions": [
    "model", "prompt", "max_tokens", "temperature", "top_p", "n", "stop", "stream", "stream_options", "seed", "user",
    "logit_bias", "best_of", "echo", "logprobs", "suffix", "frequency_penalty", "presence_penalty", "metadata", "zzz",
  ],
  "/v1/chat/completions": [
    "model", "messages", "messages.0", "messages.0.role", "messages.0.content", "messages.0.name", "max_tokens",
    "max_completion_tokens", "temperature", "top_p", "n", "stop", "stream", "stream_options", "seed", "tools",
    "tool_choice", "response_format", "logprobs", "top_logprobs", "modalities", "store", "zzz",
  ],
  "/v1/embeddings": ["model", "input", "encoding_format", "dimensions", "user", "zzz"],
  "/tokenize": ["model", "prompt", "messages", "add_special_tokens", "add_generation_prompt", "zzz"],
  "/detokenize": ["model", "tokens", "tokens.0", "zzz"],
};

const CONTENT_TYPES = [
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=zzz",
  "multipart/form-data",
  "application/octet-stream",
  "application/xml",
  "application/json; charset=latin1",
  "application/JSON",
  "image/png",
  undefined,
];

const encoder = new TextEncoder();

class Picker {
  constructor(readonly rng: Prng) {}
  int(max: number): number {
    return Math.floor(this.rng.uniform() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.rng.uniform() < p;
  }
}

function deep(depth: number, leaf: unknown, asArray: boolean): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = asArray ? [value] : { a: value };
  return value;
}

/** A value that is wrong, extreme or odd for almost any field. */
function hostileValue(p: Picker): unknown {
  switch (p.int(14)) {
    case 0:
      return p.pick([0, -1, 1, 2, 7, 17, 129, 2 ** 31, 2 ** 53 + 2, 1e308, -1e308, 1.5, -0.5, 5e-324, 1e-7]);
    case 1:
      return p.pick(["", "x", "NaN", "Infinity", "-Infinity", "1e999", "\u0000", "null", "true", "0x10"]);
    case 2:
      return p.pick(["../../etc/passwd", "/etc/passwd", "tiny-gpt2\u0000", "..", "tiny-gpt2/../tiny-gpt2", "%2e%2e%2f"]);
    case 3:
      return p.pick([true, false, null]);
    case 4:
      return p.pick([[], [null], [1, "a", null], [[]], [{}], [-1], [1e308], ["", ""]]);
    case 5:
      return p.pick([{}, { a: 1 }, { type: "text" }, { role: "user" }, { include_usage: "yes" }]);
    case 6:
      return deep(1 + p.int(3000), p.pick([1, "x", null]), p.chance(0.5));
    case 7:
      return "x".repeat(p.pick([1000, 50_000, 300_000]));
    case 8:
      return Array.from({ length: p.pick([100, 3000]) }, (_, i) => (p.chance(0.5) ? i : `s${i}`));
    case 9:
      return p.pick(["😀".repeat(500), "\u202e\u200b\ufeff", "\ud800", "\udfff\ud800", "日本語テキスト", "\r\n\t\b\f"]);
    case 10:
      return Array.from({ length: 1 + p.int(70) }, () => p.pick(["a", "", "stop", "\u0000", "x".repeat(300)]));
    case 11:
      return Object.fromEntries(Array.from({ length: 1 + p.int(5) }, (_, i) => [p.pick(["__proto__", "constructor", "1", `k${i}`]), p.int(100)]));
    case 12:
      return p.pick([[{ role: "user" }], [{ role: "system", content: [{ type: "image_url" }] }], [{ role: "tool", content: 1 }], [{}]]);
    default:
      return p.pick([-(2 ** 63), 2 ** 64, 4096, 100_000, 128, 127, 0.0001, -5]);
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let node: Record<string, unknown> = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null) return;
    node = next as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

/** Byte-level damage to a JSON text. */
function damage(p: Picker, text: string): Uint8Array {
  const bytes = encoder.encode(text);
  switch (p.int(9)) {
    case 0:
      return bytes.slice(0, p.int(bytes.length));
    case 1: {
      const at = Math.max(1, text.indexOf(":") + 1);
      return encoder.encode(`${text.slice(0, at)}${p.pick(["NaN", "Infinity", "-Infinity", "undefined", "1e999", "01"])},${text.slice(at)}`);
    }
    case 2: {
      const bad = p.pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xc0, 0xaf]]);
      const quote = text.indexOf('"', text.indexOf(":"));
      const at = quote > 0 ? quote + 1 : p.int(bytes.length);
      return Uint8Array.from([...bytes.slice(0, at), ...bad, ...bytes.slice(at)]);
    }
    case 3: {
      const copy = bytes.slice();
      for (let i = 0; i < 1 + p.int(4); i++) copy[p.int(copy.length)] = p.int(256);
      return copy;
    }
    case 4:
      return encoder.encode(p.pick(["[", "{\"a\":", "{\"model\":["]).repeat(p.pick([100, 10_000, 200_000])));
    case 5:
      return encoder.encode(`\ufeff${text}`);
    case 6:
      return encoder.encode(`${text}${p.pick(["}", "garbage", "\u0000", ",", "\n\n{}"])}`);
    case 7:
      return encoder.encode(p.pick(["", " ", "null", "[]", "0", "\"str\"", "true", "{}", "[{}]"]));
    default:
      return encoder.encode(text.replace("{", `{"model":"../x",`));
  }
}

/** A seeded stream of cases for one route, made one at a time (oversize bodies are megabytes each). */
export function* makeCases(route: string, seed: number, count: number): Generator<FuzzCase> {
  const p = new Picker(new Prng(`${seed}:${route}`));
  const fields = FIELDS[route]!;
  // A route's oversize body is the same bytes every time; built once, not 9 MB of JSON per case (about 150 ms each).
  let oversize: Uint8Array | undefined;
  for (let i = 0; i < count; i++) {
    const body = BASE_BODIES[route]!();
    const roll = p.rng.uniform();
    let kind: string;
    let bytes: Uint8Array;
    let contentType: string | undefined = "application/json";
    if (roll < 0.2) {
      kind = "valid";
      if (route.includes("completions") && p.chance(0.4)) body.stream = true;
      bytes = encoder.encode(JSON.stringify(body));
    } else if (roll < 0.6) {
      const field = p.pick(fields);
      kind = `field:${field}`;
      setPath(body, field, hostileValue(p));
      if (p.chance(0.2)) setPath(body, p.pick(fields), hostileValue(p));
      bytes = encoder.encode(JSON.stringify(body));
    } else if (roll < 0.7) {
      kind = "missing";
      for (const key of Object.keys(body)) if (p.chance(0.6)) delete body[key];
      bytes = encoder.encode(JSON.stringify(body));
    } else if (roll < 0.9) {
      kind = "bytes";
      bytes = damage(p, JSON.stringify(body));
    } else if (roll < 0.99) {
      kind = "content-type";
      contentType = p.pick(CONTENT_TYPES);
      bytes = encoder.encode(p.chance(0.3) ? "model=tiny-gpt2&prompt=x&max_tokens=1" : JSON.stringify(body));
    } else {
      kind = "oversize";
      oversize ??= encoder.encode(JSON.stringify({ ...body, prompt: "x".repeat(9 * 1024 * 1024) }));
      bytes = oversize;
    }
    yield { route, kind, body: bytes, contentType };
  }
}

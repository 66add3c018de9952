import { describe, expect, test } from "bun:test";
import { encode, decode } from "gpt-tokenizer/encoding/r50k_base";
import r50kRanks from "gpt-tokenizer/bpeRanks/r50k_base";
import { IncrementalDetokenizer, type TokenDecoder } from "../../src/engine/detokenizer.ts";

const utf8 = new TextEncoder();
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Decoder over a table of byte strings, lossy like real tokenizers (U+FFFD for bad/incomplete bytes). */
function byteTableDecoder(table: readonly Uint8Array[]): TokenDecoder & { longestCall: number } {
  return {
    longestCall: 0,
    decode(ids) {
      this.longestCall = Math.max(this.longestCall, ids.length);
      const parts = ids.map((id) => table[id] ?? new Uint8Array(0));
      const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const p of parts) {
        bytes.set(p, offset);
        offset += p.length;
      }
      return new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
    },
  };
}

/** ids are bytes. */
const byteTable = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));

function pushAll(detok: IncrementalDetokenizer, ids: readonly number[]): string[] {
  return ids.map((id) => detok.push(id));
}

describe("IncrementalDetokenizer (byte-level ids)", () => {
  test("ASCII emits one character per token immediately", () => {
    const detok = new IncrementalDetokenizer(byteTableDecoder(byteTable));
    expect(pushAll(detok, [...utf8.encode("Hi there!")])).toEqual(["H", "i", " ", "t", "h", "e", "r", "e", "!"]);
    expect(detok.flush()).toBe("");
    expect(detok.ids).toEqual([...utf8.encode("Hi there!")]);
  });

  test("multi-byte characters split byte by byte are emitted whole", () => {
    const text = "é€😀中文";
    const detok = new IncrementalDetokenizer(byteTableDecoder(byteTable));
    const pieces = pushAll(detok, [...utf8.encode(text)]);
    expect(pieces).toEqual(["", "é", "", "", "€", "", "", "", "😀", "", "", "中", "", "", "文"]);
    for (const p of pieces) expect(p.includes("\ufffd")).toBe(false);
    expect(pieces.join("") + detok.flush()).toBe(text);
  });

  test("flush drops a trailing incomplete character", () => {
    const detok = new IncrementalDetokenizer(byteTableDecoder(byteTable));
    expect(pushAll(detok, [0x61, 0x62, 0xf0, 0x9f, 0x98])).toEqual(["a", "b", "", "", ""]);
    expect(detok.flush()).toBe("");
    expect(detok.flush()).toBe("");
  });

  test("flush releases held complete text before an incomplete tail", () => {
    // one token carrying "x" plus the first byte of "€": held as a unit until the end
    const table = [Uint8Array.of(0x78, 0xe2), Uint8Array.of(0x82)];
    const detok = new IncrementalDetokenizer(byteTableDecoder(table));
    expect(pushAll(detok, [0, 1])).toEqual(["", ""]);
    expect(detok.flush()).toBe("x");
  });

  test("a lone invalid byte does not hold back the following text", () => {
    const detok = new IncrementalDetokenizer(byteTableDecoder(byteTable));
    expect(pushAll(detok, [0xff, 0x41, 0x42])).toEqual(["", "\ufffdA", "B"]);
  });

  test("a run of invalid bytes is released once it exceeds the pending bound", () => {
    const detok = new IncrementalDetokenizer(byteTableDecoder(byteTable));
    const pieces = pushAll(detok, [...Array<number>(10).fill(0xff), 0x41]);
    const R = "\ufffd";
    expect(pieces).toEqual(["", "", "", "", "", "", R.repeat(6), R, R, R, R + "A"]);
  });

  test("a long invalid run keeps the decode window bounded and recovers cleanly", () => {
    const decoder = byteTableDecoder(byteTable);
    const detok = new IncrementalDetokenizer(decoder);
    const pieces = pushAll(detok, [...Array<number>(100).fill(0xff), ...utf8.encode("😀ok")]);
    expect(pieces.join("") + detok.flush()).toBe("\ufffd".repeat(100) + "😀ok");
    expect(decoder.longestCall).toBeLessThanOrEqual(38);
  });

  test("a forced commit that lands inside a character never emits half a surrogate pair", () => {
    const detok = new IncrementalDetokenizer(byteTableDecoder(byteTable));
    const pieces = pushAll(detok, [...Array<number>(32).fill(0xff), 0xf0, 0x9f, 0x98, 0x80, 0x41]);
    for (const p of pieces) expect(LONE_SURROGATE.test(p)).toBe(false);
    // the 4-byte character was cut by the commit; it degrades to the U+FFFD already sent
    expect(pieces.join("")).toBe("\ufffd".repeat(33) + "A");
  });

  test("tokens that chain partial characters past the bound still decode exactly", () => {
    // a 1-byte token, then 3-byte tokens over 3-byte characters: every token
    // but the last ends mid-character, so the tail keeps decoding to U+FFFD
    const text = "中文字符测试你好世界";
    const bytes = utf8.encode(text);
    const table: Uint8Array[] = [bytes.slice(0, 1)];
    for (let i = 1; i < bytes.length; i += 3) table.push(bytes.slice(i, i + 3));
    expect(table.length).toBe(11);
    const detok = new IncrementalDetokenizer(byteTableDecoder(table));
    const pieces = pushAll(detok, table.map((_, i) => i));
    expect(pieces).toEqual(["", "", "", "", "", "", "中文字符测试", "你", "好", "世", "界"]);
    expect(detok.flush()).toBe("");
  });

  test("per-token decode work stays bounded over a long generation", () => {
    const decoder = byteTableDecoder(byteTable);
    const detok = new IncrementalDetokenizer(decoder, [...utf8.encode("some prompt text")]);
    const text = "abc é€ 😀 中文 ".repeat(200);
    const pieces = pushAll(detok, [...utf8.encode(text)]);
    expect(pieces.join("") + detok.flush()).toBe(text);
    expect(decoder.longestCall).toBeLessThanOrEqual(9);
    expect(detok.ids.length).toBe(utf8.encode(text).length);
  });
});

describe("IncrementalDetokenizer (context-sensitive decoding)", () => {
  // SentencePiece-style: "▁" marks a word start and the leading space of the whole string is dropped.
  const pieces = ["▁Hello", "▁world", ",", "▁how", "▁are", "▁you", "?"];
  const spDecoder: TokenDecoder = {
    decode: (ids) => ids.map((id) => pieces[id] ?? "").join("").replaceAll("▁", " ").replace(/^ /, ""),
  };

  test("the prompt tail supplies the leading space of the first generated word", () => {
    const withPrompt = new IncrementalDetokenizer(spDecoder, [0]);
    expect(pushAll(withPrompt, [1, 2, 3])).toEqual([" world", ",", " how"]);
    const withoutPrompt = new IncrementalDetokenizer(spDecoder);
    expect(pushAll(withoutPrompt, [1, 2, 3])).toEqual(["world", ",", " how"]);
  });

  test("only the last few prompt ids are decoded as context", () => {
    let longest = 0;
    const counting: TokenDecoder = {
      decode: (ids) => {
        longest = Math.max(longest, ids.length);
        return spDecoder.decode(ids);
      },
    };
    const prompt = Array.from({ length: 50 }, (_, i) => i % pieces.length);
    const detok = new IncrementalDetokenizer(counting, prompt);
    const out = pushAll(detok, [3, 4, 5, 6]).join("");
    expect(out).toBe(" how are you?");
    expect(longest).toBe(6);
    expect(detok.ids).toEqual([3, 4, 5, 6]);
  });
});

describe("IncrementalDetokenizer (gpt-tokenizer r50k_base)", () => {
  // gpt-tokenizer's own decode() shares one streaming TextDecoder across calls,
  // so decoding a window that ends mid-character leaks bytes into the next
  // call. The per-window decoder is therefore built from the package's rank
  // table (token id → bytes), decoded lossily like Hugging Face tokenizers.
  const table = r50kRanks.map((entry) => (typeof entry === "string" ? utf8.encode(entry) : Uint8Array.from(entry)));

  test("emoji and CJK split across tokens stream without U+FFFD", () => {
    const text = "Hi 😀 中文 é€ 🤖👍🏽 👨‍👩‍👧‍👦 done!";
    const ids = encode(text);
    const decoder = byteTableDecoder(table);
    // the test is only meaningful if some token carries a partial character
    expect(ids.some((id) => decoder.decode([id]).includes("\ufffd"))).toBe(true);

    const detok = new IncrementalDetokenizer(decoder, encode("User: say something\nAssistant:"));
    const pieces = pushAll(detok, ids);
    for (const p of pieces) expect(p.includes("\ufffd")).toBe(false);
    const all = pieces.join("") + detok.flush();
    expect(all).toBe(decode(ids));
    expect(all).toBe(text);
  });
});

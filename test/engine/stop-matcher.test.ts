import { describe, expect, test } from "bun:test";
import { StopMatcher, type StopResult } from "../../src/engine/stop-matcher.ts";

/** Feeds chunks in order until a stop; returns the per-push results and the flushed tail. */
function run(stops: string[], chunks: string[]): { results: StopResult[]; emitted: string; stopped: boolean } {
  const m = new StopMatcher(stops);
  const results: StopResult[] = [];
  for (const chunk of chunks) {
    const r = m.push(chunk);
    results.push(r);
    if (r.stopped) break;
  }
  const stopped = results.at(-1)?.stopped ?? false;
  const tail = m.flush();
  return { results, emitted: results.map((r) => r.text).join("") + tail, stopped };
}

describe("StopMatcher", () => {
  test("no stops passes text through immediately", () => {
    const m = new StopMatcher([]);
    expect(m.push("hello")).toEqual({ text: "hello", stopped: false });
    expect(m.push(" world")).toEqual({ text: " world", stopped: false });
    expect(m.flush()).toBe("");
  });

  test("text that cannot start a stop is released at once", () => {
    const m = new StopMatcher(["END"]);
    expect(m.push("hello ")).toEqual({ text: "hello ", stopped: false });
    expect(m.push("wor")).toEqual({ text: "wor", stopped: false });
  });

  test("stop spanning two chunks is never emitted", () => {
    const m = new StopMatcher(["STOP"]);
    expect(m.push("abc ST")).toEqual({ text: "abc ", stopped: false });
    expect(m.push("OP and more")).toEqual({ text: "", stopped: true });
    expect(m.push("ignored")).toEqual({ text: "", stopped: true });
    expect(m.flush()).toBe("");
  });

  test("stop spanning three chunks is never emitted", () => {
    const m = new StopMatcher(["<|end|>"]);
    expect(m.push("x <|")).toEqual({ text: "x ", stopped: false });
    expect(m.push("en")).toEqual({ text: "", stopped: false });
    expect(m.push("d|> tail")).toEqual({ text: "", stopped: true });
  });

  test("a disproved partial match is released", () => {
    const m = new StopMatcher(["abc"]);
    expect(m.push("ab")).toEqual({ text: "", stopped: false });
    expect(m.push("x")).toEqual({ text: "abx", stopped: false });
    expect(m.flush()).toBe("");
  });

  test("after a disproved partial, a new partial inside the held text is still held", () => {
    const m = new StopMatcher(["aab"]);
    expect(m.push("a")).toEqual({ text: "", stopped: false });
    expect(m.push("a")).toEqual({ text: "", stopped: false });
    // "aaa": the last two characters can still begin "aab"
    expect(m.push("a")).toEqual({ text: "a", stopped: false });
    expect(m.push("b!")).toEqual({ text: "", stopped: true });
  });

  test("stop at the very start emits nothing", () => {
    expect(run(["Hi"], ["Hi there"])).toEqual({
      results: [{ text: "", stopped: true }],
      emitted: "",
      stopped: true,
    });
    expect(run(["Hi"], ["H", "i"]).emitted).toBe("");
  });

  test("earliest match wins across several stops", () => {
    expect(run(["world", "lo"], ["hello world"]).emitted).toBe("hel");
    expect(run(["lo", "world"], ["hel", "lo world"]).emitted).toBe("hel");
    expect(run(["zzz", "o w", "d"], ["hello ", "world"]).emitted).toBe("hell");
  });

  test("overlapping stops: the first to complete wins regardless of chunking", () => {
    // "bc" completes before "abcd" does, so it wins whether or not "d" arrives in the same chunk
    expect(run(["abcd", "bc"], ["xabcd"]).emitted).toBe("xa");
    expect(run(["abcd", "bc"], ["xab", "cd"]).emitted).toBe("xa");
    // both complete at the same character: the longer (earlier-starting) one wins
    expect(run(["yz", "xyz"], ["wxyz"]).emitted).toBe("w");
    expect(run(["yz", "xyz"], ["wx", "y", "z"]).emitted).toBe("w");
    // self-overlapping stop
    expect(run(["aab"], ["xaa", "aab"]).emitted).toBe("xaa");
    expect(run(["aab"], ["xa", "a", "a", "ab"]).emitted).toBe("xaa");
  });

  test("holds the longest possible partial across stops", () => {
    const m = new StopMatcher(["abcdef", "cdX"]);
    expect(m.push("zzabcd")).toEqual({ text: "zz", stopped: false });
    expect(m.push("X")).toEqual({ text: "ab", stopped: true });
  });

  test("unicode stops: emoji and CJK", () => {
    expect(run(["😀"], ["hi ", "\ud83d", "\ude00 bye"]).emitted).toBe("hi ");
    expect(run(["終わり"], ["これで", "終わ", "りです"]).emitted).toBe("これで");
    const m = new StopMatcher(["🛑stop"]);
    expect(m.push("go 🛑")).toEqual({ text: "go ", stopped: false });
    expect(m.push("st")).toEqual({ text: "", stopped: false });
    expect(m.push("art")).toEqual({ text: "🛑start", stopped: false });
  });

  test("flush returns held text when no stop occurred", () => {
    const m = new StopMatcher(["STOP"]);
    expect(m.push("the end ST")).toEqual({ text: "the end ", stopped: false });
    expect(m.flush()).toBe("ST");
    expect(m.flush()).toBe("");
  });

  test("empty strings in the list are ignored", () => {
    const m = new StopMatcher(["", "x"]);
    expect(m.push("abc")).toEqual({ text: "abc", stopped: false });
    expect(m.push("dxe")).toEqual({ text: "d", stopped: true });
  });

  test("emitted text plus the stop equals the generated prefix, for every chunking", () => {
    const text = "The quick brown fox says 終わり😀 then STOP, then more STOP.";
    const stopCases: [string[], string][] = [
      [["STOP"], "STOP"],
      [["😀 then", "fox"], "fox"],
      [["ら", "り😀"], "り😀"],
      [["nothing here"], ""],
    ];
    const rng = (() => {
      let s = 12345;
      return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
    })();
    for (const [stops, expectedStop] of stopCases) {
      const cut = expectedStop ? text.indexOf(expectedStop) : text.length;
      for (let trial = 0; trial < 200; trial++) {
        const chunks: string[] = [];
        for (let i = 0; i < text.length; ) {
          const len = 1 + Math.floor(rng() * 6);
          chunks.push(text.slice(i, i + len));
          i += len;
        }
        const { emitted, stopped } = run(stops, chunks);
        expect(stopped).toBe(expectedStop !== "");
        expect(emitted).toBe(text.slice(0, cut));
        expect(emitted + expectedStop).toBe(text.slice(0, cut + expectedStop.length));
      }
    }
  });
});

describe("StopMatcher.matched", () => {
  test("names the stop string that ended the text, whatever the chunking", () => {
    const text = "one two three four";
    for (let cut = 1; cut < text.length; cut++) {
      const m = new StopMatcher(["four", "thr", "o t"]);
      m.push(text.slice(0, cut));
      m.push(text.slice(cut));
      // "o t" (in "two three") ends at index 7, before "thr" ends at 11.
      expect(m.matched).toBe("o t");
    }
  });

  test("stays undefined when no stop occurred", () => {
    const m = new StopMatcher(["zz"]);
    m.push("abz");
    m.flush();
    expect(m.matched).toBeUndefined();
  });
});

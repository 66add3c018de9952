// The server (from source and as the compiled binary) runs text models through ONNX Runtime's C API, writing the KV
// cache in place, and says so; `--ort-outputs copied` runs them through onnxruntime-node; both answer alike. Their
// attention is rewritten into GroupQueryAttention over a cache extended in place; `--attention exported` keeps the
// model's own attention and chooses the same greedy tokens. Pre-packed weights are mapped from the cache folder;
// `--packed-weights heap` packs them in memory and answers the same, logprobs included.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { serverModes, startServer, type RunningServer } from "./harness.ts";

const REQUEST = { model: "tiny-llama", prompt: "The quick brown fox jumps over", max_tokens: 24, temperature: 0, logprobs: 2 };
const IN_PLACE = "text models write their KV cache in place (ONNX Runtime C API)";
const PACKED = "text models map their pre-packed weights from the cache folder";
const FUSED = "text model attention runs as ONNX Runtime's GroupQueryAttention over a KV cache each step extends in place";

async function complete(server: RunningServer, body: unknown): Promise<{ text: string; logprobs: unknown }[]> {
  const response = await fetch(`${server.baseURL}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  const json = (await response.json()) as { choices: { text: string; logprobs: unknown }[] };
  return json.choices;
}

for (const mode of serverModes()) {
  describe(`KV cache written in place [${mode}]`, () => {
    let inPlace: RunningServer;
    let copied: RunningServer;
    let exported: RunningServer;
    let heap: RunningServer;
    beforeAll(async () => {
      [inPlace, copied, exported, heap] = await Promise.all([
        startServer({ mode }),
        startServer({ mode, args: ["--ort-outputs", "copied"] }),
        startServer({ mode, args: ["--attention", "exported"] }),
        startServer({ mode, args: ["--packed-weights", "heap"] }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([inPlace?.stop(), copied?.stop(), exported?.stop(), heap?.stop()]);
    });

    it("writes in place by default and gives the same tokens and logprobs as onnxruntime-node's copies", async () => {
      const batch = { ...REQUEST, prompt: [REQUEST.prompt, "Once upon a time", "1, 2, 3,"] };
      const [a, b] = await Promise.all([complete(inPlace, REQUEST), complete(copied, REQUEST)]);
      expect(a[0]!.text.length).toBeGreaterThan(0);
      expect(a).toEqual(b);
      const [c, d] = await Promise.all([complete(inPlace, batch), complete(copied, batch)]);
      expect(c.length).toBe(3);
      expect(c).toEqual(d);
      expect(inPlace.output()).toContain(IN_PLACE);
      expect(inPlace.output()).not.toContain("decoder outputs are copied");
      expect(copied.output()).not.toContain(IN_PLACE);
    });

    it("runs attention as GroupQueryAttention by default; --attention exported chooses the same greedy tokens", async () => {
      const batch = { ...REQUEST, logprobs: undefined, max_tokens: 40, prompt: [REQUEST.prompt, "Once upon a time", "1, 2, 3,"] };
      const [fused, plain] = await Promise.all([complete(inPlace, batch), complete(exported, batch)]);
      expect(fused.map((c) => c.text)).toEqual(plain.map((c) => c.text));
      expect(fused[0]!.text.length).toBeGreaterThan(0);
      expect(inPlace.output()).toContain(FUSED);
      expect(exported.output()).not.toContain("GroupQueryAttention");
    });

    it("maps pre-packed weights from the cache by default; --packed-weights heap gives the same tokens and logprobs", async () => {
      // Prompts neither server has seen: a prefix served from the cache is computed in other chunks (other rounding).
      const batch = { ...REQUEST, prompt: ["Weights mapped from a file", "Two servers share the pages", "7 8 9"] };
      const [mapped, packedInMemory] = await Promise.all([complete(inPlace, batch), complete(heap, batch)]);
      expect(mapped[0]!.text.length).toBeGreaterThan(0);
      expect(mapped).toEqual(packedInMemory);
      expect(inPlace.output()).toContain(PACKED);
      expect(heap.output()).not.toContain(PACKED);
    });
  });
}

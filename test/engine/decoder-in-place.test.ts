// A decoder whose session writes outputs in place (ONNX Runtime's C API, src/runtime/direct-session.ts) computes
// exactly what the same model gives through onnxruntime-node, which copies every output: the same logits bit for bit
// and the same cache, through chunked and batched prefills, decode steps that reuse their buffers, and re-packs.
import { afterAll, describe, expect, it } from "bun:test";
import { join, resolve } from "node:path";
import { Decoder, type KvBlock } from "../../src/engine/decoder.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";
import { DirectSession } from "../../src/runtime/direct-session.ts";

const MODELS_DIR = resolve(import.meta.dir, "../../models");
const decoders: Decoder[] = [];
afterAll(() => Promise.all(decoders.map((d) => d.release())));

async function open(id: string, file: string, inPlaceOutputs: boolean): Promise<Decoder> {
  const dir = join(MODELS_DIR, id);
  const decoder = await Decoder.open(dir, file, readDecoderConfig(dir), { intraOpThreads: 1, inPlaceOutputs });
  decoders.push(decoder);
  return decoder;
}

const bits = (data: Float32Array | Uint16Array) => Array.from(data instanceof Float32Array ? new Uint32Array(data.buffer, data.byteOffset, data.length) : data);
const cacheBits = (kv: KvBlock) => Object.fromEntries(Object.entries(kv.tensors).map(([name, t]) => [name, { dims: t.dims, bits: bits(t.data as Float32Array | Uint16Array) }]));
const argmax = (logits: Float32Array) => logits.reduce((best, v, i, all) => (v > all[best]! ? i : best), 0);

/** One scripted run: two prompts prefilled together, decode steps, a third prompt joining, a row leaving. */
async function script(d: Decoder): Promise<{ logits: number[][]; caches: ReturnType<typeof cacheBits>[] }> {
  const V = d.vocabSize;
  const ids = (n: number, from: number) => Array.from({ length: n }, (_, i) => (from + i * 7919) % (V - 1));
  const logits: number[][] = [];
  const caches: ReturnType<typeof cacheBits>[] = [];
  const first = await d.prefill(ids(5, 3), d.emptyKv());
  const resumed = await d.prefill(ids(3, 40), first.kv);
  logits.push(bits(first.logits), bits(resumed.logits));
  const both = await d.prefillBatch([{ ids: ids(7, 11) }, { ids: ids(4, 90) }]);
  logits.push(bits(both.logits));
  let kv = both.kv;
  let lengths = [7, 4];
  let tokens = [argmax(both.logits.subarray(0, V)), argmax(both.logits.subarray(V))];
  const decodeSteps = async (n: number) => {
    for (let s = 0; s < n; s++) {
      const out = await d.decode(kv, tokens, lengths);
      logits.push(bits(out.logits));
      tokens = lengths.map((_, r) => argmax(out.logits.subarray(r * V, (r + 1) * V)));
      lengths = lengths.map((l) => l + 1);
      kv = out.kv;
    }
    caches.push(cacheBits(kv));
  };
  await decodeSteps(6);
  // The resumed prompt joins; the first row leaves two steps later.
  // Packed as the scheduler packs its decode batch (into the decode buffers when the session writes in place).
  const packed = d.pack([...lengths.map((length, row) => ({ kv, row, length })), { kv: resumed.kv, row: 0, length: 8 }], true);
  d.retire(kv);
  kv = packed;
  lengths = [...lengths, 8];
  tokens = [...tokens, argmax(resumed.logits)];
  await decodeSteps(2);
  const left = d.pack([{ kv, row: 1, length: lengths[1]! }, { kv, row: 2, length: lengths[2]! }], true);
  d.retire(kv);
  kv = left;
  lengths = lengths.slice(1);
  tokens = tokens.slice(1);
  await decodeSteps(5);
  // A shorter row joins a batch whose buffers held longer rows: its padding must read as zeros, not old positions.
  const short = await d.prefill(ids(2, 7), d.emptyKv());
  const joined = d.pack([...lengths.map((length, row) => ({ kv, row, length })), { kv: short.kv, row: 0, length: 2 }], true);
  caches.push(cacheBits(joined));
  d.retire(kv);
  kv = joined;
  lengths = [...lengths, 2];
  tokens = [...tokens, argmax(short.logits)];
  await decodeSteps(3);
  d.releaseDecodeBuffers();
  return { logits, caches };
}

describe("decoder outputs written in place", () => {
  it("the C API loads here (Linux): decoders write in place by default", async () => {
    expect(DirectSession.available()).toBe(true);
    expect((await open("tiny-gpt2", "model.onnx", true)).writesInPlace).toBe(true);
    expect((await open("tiny-gpt2", "model.onnx", false)).writesInPlace).toBe(false);
  });

  for (const [id, file] of [
    ["tiny-gpt2", "model.onnx"],
    ["tiny-gpt2", "model_quantized.onnx"],
    ["tiny-llama", "model.onnx"],
    ["tiny-llama", "model_fp16.onnx"],
    ["tiny-llama", "model_q4f16.onnx"],
    ["gpt2-vocab", "model.onnx"],
  ] as const) {
    it(`${id}/${file}: the same logits and cache, bit for bit, as onnxruntime-node's copies`, async () => {
      const inPlace = await open(id, file, true);
      const copied = await open(id, file, false);
      const a = await script(inPlace);
      const b = await script(copied);
      expect(a.logits.length).toBe(2 + 1 + 16);
      expect(a.logits).toEqual(b.logits);
      expect(a.caches).toEqual(b.caches);
    });
  }
});

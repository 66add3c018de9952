// Attention rewritten at load into GroupQueryAttention over a cache that steps extend in place
// (src/runtime/graph-rewrite/shared-kv-attention.ts, src/engine/kv-room.ts) computes what the exported graph
// computes: the first layer's cache bit for bit at every real position, later layers' cache, logits and greedy tokens
// within float rounding (the softmax is summed in another order), through chunked, resumed and batched prefills, decode steps,
// rows joining and leaving, and a cached prompt extended twice (the second extension must not write over the first).
import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Decoder, type KvBlock } from "../../src/engine/decoder.ts";
import { kvMemory, kvStride } from "../../src/engine/kv-block.ts";
import { kvFromViews, viewKv, type KvView } from "../../src/engine/kv-segment.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";
import { PrefixCache, PREFIX_BLOCK_TOKENS } from "../../src/engine/prefix-cache.ts";
import { PrefixReuse } from "../../src/engine/prefix-reuse.ts";
import { Scheduler } from "../../src/engine/scheduler.ts";
import { letters } from "./fake-model.ts";
import { OPTIONS, params, submit } from "./scheduler-harness.ts";

const MODELS_DIR = resolve(import.meta.dir, "../../models");
const cacheDir = mkdtempSync(join(tmpdir(), "gpt3dev-shared-kv-"));
const decoders: Decoder[] = [];
afterAll(async () => {
  await Promise.all(decoders.map((d) => d.release()));
  rmSync(cacheDir, { recursive: true, force: true });
});

async function open(id: string, file: string, fusedAttention: boolean): Promise<Decoder> {
  const dir = join(MODELS_DIR, id);
  const decoder = await Decoder.open(dir, file, readDecoderConfig(dir), { intraOpThreads: 1, cacheDir, fusedAttention });
  decoders.push(decoder);
  return decoder;
}

const argmax = (logits: Float32Array) => logits.reduce((best, v, i, all) => (v > all[best]! ? i : best), 0);

/** Row `row`'s real positions as their own block, per tensor (the layout of the block left out). */
function rowBits(d: Decoder, kv: KvBlock, row: number, length: number): Record<string, Float32Array> {
  const alone = d.io.cache.pack([{ kv, row, length }]);
  return Object.fromEntries(Object.entries(alone.tensors).map(([name, t]) => [name, (t.data as Float32Array).slice()]));
}

interface Trace {
  logits: Float32Array[];
  rows: Record<string, Float32Array>[];
  tokens: number[];
  /** Re-packs done in the decode block's own memory. */
  inPlaceJoins: number;
}

/** One scripted run; tokens come from the reference run (`feed`) when given, so both runs see the same inputs. */
async function script(d: Decoder, feed?: number[]): Promise<Trace> {
  const V = d.vocabSize;
  const trace: Trace = { logits: [], rows: [], tokens: [], inPlaceJoins: 0 };
  let pick = 0;
  const choose = (logits: Float32Array) => {
    const token = feed ? feed[pick++]! : argmax(logits);
    if (!feed) trace.tokens.push(token);
    return token;
  };
  const ids = (n: number, from: number) => Array.from({ length: n }, (_, i) => (from + i * 7919) % (V - 1));
  const note = (logits: Float32Array) => trace.logits.push(logits.slice());
  // A prompt in two chunks, then the same cached prompt extended twice: the first extension may write in place,
  // the second must copy, and the first extension's positions must be left as they were.
  const first = await d.prefill(ids(5, 3), d.emptyKv(), "last", 8);
  const resumed = await d.prefill(ids(3, 40), first.kv);
  const again = await d.prefill(ids(4, 77), first.kv);
  [first, resumed, again].forEach((r) => note(r.logits));
  trace.rows.push(rowBits(d, resumed.kv, 0, 8), rowBits(d, again.kv, 0, 9), rowBits(d, first.kv, 0, 5));
  const both = await d.prefillBatch([{ ids: ids(7, 11) }, { ids: ids(4, 90) }]);
  note(both.logits);
  let kv = both.kv;
  let lengths = [7, 4];
  let tokens = [choose(both.logits.subarray(0, V)), choose(both.logits.subarray(V))];
  const steps = async (n: number) => {
    for (let s = 0; s < n; s++) {
      const out = await d.decode(kv, tokens, lengths);
      note(out.logits);
      tokens = lengths.map((_, r) => choose(out.logits.subarray(r * V, (r + 1) * V)));
      lengths = lengths.map((l) => l + 1);
      kv = out.kv;
    }
    lengths.forEach((length, row) => trace.rows.push(rowBits(d, kv, row, length)));
  };
  // More steps than the room a block gets (64 positions), so the decode batch also grows into a new buffer.
  await steps(70);
  const packed = d.pack([...lengths.map((length, row) => ({ kv, row, length })), { kv: resumed.kv, row: 0, length: 8 }], true);
  d.retire(kv);
  [kv, lengths, tokens] = [packed, [...lengths, 8], [...tokens, choose(resumed.logits)]];
  await steps(2);
  // A fourth row joins (in place: the block has room for four rows), then the second leaves and the last takes its
  // place (the order the decode batch keeps), then the first leaves and the others move up (a copy).
  const fourth = await d.prefill(ids(6, 5), d.emptyKv());
  const joined = d.pack([...lengths.map((length, row) => ({ kv, row, length })), { kv: fourth.kv, row: 0, length: 6 }], true);
  if (d.extendsInPlace) trace.inPlaceJoins += kvMemory(joined) === kvMemory(kv) ? 1 : 0;
  d.retire(kv);
  [kv, lengths, tokens] = [joined, [...lengths, 6], [...tokens, choose(fourth.logits)]];
  await steps(2);
  const swapped = d.pack([0, 3, 2].map((row) => ({ kv, row, length: lengths[row]! })), true);
  if (d.extendsInPlace) trace.inPlaceJoins += kvMemory(swapped) === kvMemory(kv) ? 1 : 0;
  d.retire(kv);
  [kv, lengths, tokens] = [swapped, [0, 3, 2].map((r) => lengths[r]!), [0, 3, 2].map((r) => tokens[r]!)];
  await steps(2);
  const left = d.pack([{ kv, row: 1, length: lengths[1]! }, { kv, row: 2, length: lengths[2]! }], true);
  d.retire(kv);
  [kv, lengths, tokens] = [left, lengths.slice(1), tokens.slice(1)];
  await steps(3);
  d.releaseDecodeBuffers();
  return trace;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("attention rewritten into GroupQueryAttention over a cache extended in place", () => {
  for (const [id, file] of [
    ["tiny-gpt2", "model.onnx"],
    ["tiny-gpt2", "model_quantized.onnx"],
    ["tiny-llama", "model.onnx"],
    ["tiny-llama", "model_q4.onnx"],
  ] as const) {
    it(`${id} ${file}: the same caches, tokens and logits as the exported attention`, async () => {
      const fused = await open(id, file, true);
      const exported = await open(id, file, false);
      expect(fused.rewrites).toContain("shared-kv-attention");
      expect(fused.extendsInPlace).toBe(true);
      expect(exported.rewrites).not.toContain("shared-kv-attention");
      expect(exported.extendsInPlace).toBe(false);
      const reference = await script(exported);
      const trace = await script(fused, reference.tokens);
      // The fourth row joined and the second left without copying the rows that stayed.
      expect(trace.inPlaceJoins).toBe(2);
      expect(trace.logits.length).toBe(reference.logits.length);
      expect(trace.rows.length).toBe(reference.rows.length);
      trace.rows.forEach((row, i) => {
        const ref = reference.rows[i]!;
        expect(Object.keys(row)).toEqual(Object.keys(ref));
        // The first layer's keys and values come before any attention: bit for bit. Later layers' depend on the
        // earlier layers' attention output, so on its rounding.
        for (const name of ["past_key_values.0.key", "past_key_values.0.value"]) expect(new Uint32Array(row[name]!.buffer)).toEqual(new Uint32Array(ref[name]!.buffer));
        for (const name of Object.keys(row)) expect(maxDiff(row[name]!, ref[name]!)).toBeLessThan(1e-4);
      });
      // 8-bit graphs quantize each activation on the fly: a last-bit difference in an attention output can move a
      // value to the next quantization step, so their logits agree less closely.
      const tolerance = file === "model_quantized.onnx" ? 0.5 : 1e-3;
      trace.logits.forEach((logits, i) => expect(maxDiff(logits, reference.logits[i]!)).toBeLessThan(tolerance));
      // Greedy choices agree wherever the reference's best token leads its runner-up by more than that.
      const V = fused.vocabSize;
      let clear = 0;
      let total = 0;
      trace.logits.forEach((logits, i) => {
        for (let r = 0; r < logits.length / V; r++) {
          total++;
          const ref = reference.logits[i]!.subarray(r * V, (r + 1) * V);
          const best = argmax(ref);
          const margin = ref[best]! - Math.max(...Array.from(ref).filter((_, j) => j !== best));
          if (margin <= 2 * tolerance) continue;
          clear++;
          expect(argmax(logits.subarray(r * V, (r + 1) * V))).toBe(best);
        }
      });
      expect(clear).toBeGreaterThan(0.5 * total);
    });
  }

  for (const id of ["tiny-gpt2", "tiny-llama"]) {
    it(`${id}: the scheduler (prompts in chunks side by side, rows joining and leaving, a chat's turns from the prefix cache) gives the exported attention's tokens`, async () => {
      const fused = await open(id, "model.onnx", true);
      const exported = await open(id, "model.onnx", false);
      const eos = new Set(fused.config.eosIds);
      const options = { ...OPTIONS, prefillChunk: 16 };
      const prefixes = new PrefixReuse<KvBlock, KvView>(new PrefixCache({ budgetBytes: 4 << 20, blockTokens: PREFIX_BLOCK_TOKENS }), {
        view: viewKv,
        restore: kvFromViews,
        compact: (source) => fused.pack([source]),
      });
      const a = new Scheduler(fused, letters, eos, options, id, prefixes);
      const b = new Scheduler(exported, letters, eos, options, id);
      const prompt = (length: number, from: number) => Array.from({ length }, (_, i) => (from + i * 53) % 600);
      const system = prompt(37, 11);
      const requests = [
        { prompts: [prompt(41, 3)], params: params({ maxTokens: 20 }) },
        { prompts: [prompt(5, 90)], params: params({ maxTokens: 7 }) },
        { prompts: [[...system, ...prompt(9, 200)]], params: params({ maxTokens: 12 }) },
        { prompts: [prompt(23, 7), prompt(2, 500)], params: params({ maxTokens: 15 }) },
        { prompts: [[...system, ...prompt(4, 300)]], params: params({ maxTokens: 9 }) },
      ];
      const got = await Promise.all(requests.map((r) => submit(a, r)));
      const want = await Promise.all(requests.map((r) => submit(b, r)));
      expect(got.map((o) => o.ids)).toEqual(want.map((o) => o.ids));
      // A chat: every turn repeats the history and adds a message; the fused scheduler resumes from its cache.
      let history = prompt(30, 17);
      let reused = 0;
      for (let turn = 0; turn < 3; turn++) {
        const request = { prompts: [history], params: params({ maxTokens: 8 }) };
        const [x, y] = [await submit(a, request), await submit(b, request)];
        expect(x.ids).toEqual(y.ids);
        reused += x.cached;
        history = [...history, ...x.ids[0]!, ...prompt(11, 100 + turn)];
      }
      expect(reused).toBeGreaterThan(0);
    });
  }

  it("a prompt prefilled with the whole prompt's room is extended by its next chunk without a copy", async () => {
    const d = await open("tiny-gpt2", "model.onnx", true);
    const first = await d.prefill([5, 6, 7, 8], d.emptyKv(), "last", 300);
    expect(kvStride(first.kv)).toBeGreaterThanOrEqual(300);
    const next = await d.prefill([9, 10], first.kv);
    expect(kvMemory(next.kv)).toBe(kvMemory(first.kv)!);
    // The cached block extended a second time goes into new memory.
    const other = await d.prefill([11], first.kv);
    expect(kvMemory(other.kv)).not.toBe(kvMemory(first.kv)!);
  });

  it("float16 caches keep the exported attention (GroupQueryAttention is rewritten for float32 caches only)", async () => {
    const d = await open("tiny-llama", "model_fp16.onnx", true);
    expect(d.rewrites).not.toContain("shared-kv-attention");
    expect(d.batchesResumedPrompts).toBe(true);
  });
});

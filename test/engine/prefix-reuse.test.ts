// Prefix reuse in the scheduler: a prompt that starts like an earlier one prefills only the rest, says how many of its
// tokens came from the cache, and gets the very token ids it gets without the cache (the fake model, then the
// generated GPT-2 and Llama ONNX models through multi-turn chats and a busy batch sharing a system prompt).
import { afterAll, describe, expect, it } from "bun:test";
import { join, resolve } from "node:path";
import { Decoder, type KvBlock } from "../../src/engine/decoder.ts";
import { kvFromViews, viewKv, type KvView } from "../../src/engine/kv-segment.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";
import { PrefixCache, PREFIX_BLOCK_TOKENS, type KvSegment } from "../../src/engine/prefix-cache.ts";
import { PrefixReuse } from "../../src/engine/prefix-reuse.ts";
import { Scheduler } from "../../src/engine/scheduler.ts";
import { EOS, FakeModel, letters, PAD, type FakeKv } from "./fake-model.ts";
import { OPTIONS, params, submit, type Request } from "./scheduler-harness.ts";

const MODELS_DIR = resolve(import.meta.dir, "../../models");
const decoders: Decoder[] = [];
afterAll(async () => {
  await Promise.all(decoders.map((d) => d.release()));
});

interface FakeSegment extends KvSegment {
  cells: number[];
}

/** The fake model's cache is its token ids: a segment is the ids of its positions. */
function fakePrefixes(blockTokens: number, budgetBytes = 1 << 20, bytesPerPosition = 1) {
  const stores = new WeakMap<FakeKv, { bytes: number }>();
  return new PrefixReuse<FakeKv, FakeSegment>(new PrefixCache({ budgetBytes, blockTokens }), {
    view({ kv, row, length }, start, end) {
      const real = kv.cells[row]!.slice(kv.width - length);
      if (real.includes(PAD)) throw new Error("viewed padding");
      if (!stores.has(kv)) stores.set(kv, { bytes: kv.rows * kv.width * bytesPerPosition });
      return { cells: real.slice(start, end), store: stores.get(kv)! };
    },
    restore(segments, length) {
      const cells = segments.flatMap((s) => s.cells).slice(0, length);
      return { rows: 1, width: length, cells: [cells] };
    },
    compact({ kv, row, length }) {
      return { rows: 1, width: length, cells: [kv.cells[row]!.slice(kv.width - length)] };
    },
  });
}

const ids = (length: number, from: number, mod = 30) => Array.from({ length }, (_, i) => 2 + ((from + i * 7) % mod));

describe("prefix reuse on the fake model", () => {
  it("a prompt sent together with one sharing its prefix waits for it and prefills only the rest", async () => {
    const model = new FakeModel();
    const cached = new Scheduler(model, letters, new Set([EOS]), { ...OPTIONS, prefillChunk: 16 }, "fake", fakePrefixes(4));
    const plain = new Scheduler(new FakeModel(), letters, new Set([EOS]), { ...OPTIONS, prefillChunk: 16 }, "fake");
    const system = ids(40, 1);
    const requests: Request[] = [
      { prompts: [[...system, ...ids(5, 2)]], params: params({ maxTokens: 4 }) },
      { prompts: [[...system, ...ids(6, 9)]], params: params({ maxTokens: 4 }) },
      { prompts: [[...system, ...ids(5, 2)]], params: params({ maxTokens: 4 }) },
    ];
    const got = await Promise.all(requests.map((r) => submit(cached, r)));
    const want = await Promise.all(requests.map((r) => submit(plain, r)));
    expect(got.map((o) => o.ids)).toEqual(want.map((o) => o.ids));
    // Nothing was cached when the three arrived; the second and third found the first's prompt once it was stored
    // (40 shared tokens in blocks of 4; the third repeats the first whole but for its last token).
    expect(got.map((o) => o.cached)).toEqual([0, 40, 44]);
    const prefilled = model.calls.filter((c) => c.op === "prefill").reduce((n, c) => n + c.tokens, 0);
    expect(prefilled).toBe(45 + 6 + 1);
  });

  it("prefills only what follows the cached prefix, reports it, and changes no output", async () => {
    const model = new FakeModel();
    const cached = new Scheduler(model, letters, new Set([EOS]), OPTIONS, "fake", fakePrefixes(4));
    const plain = new Scheduler(new FakeModel(), letters, new Set([EOS]), OPTIONS, "fake");
    const history = ids(40, 1);
    const turns: Request[] = [
      { prompts: [history], params: params({ maxTokens: 5 }) },
      { prompts: [[...history, ...ids(8, 3)]], params: params({ maxTokens: 5 }) },
      { prompts: [[...history, 9]], n: 2, params: params({ maxTokens: 4, sampling: { temperature: 1, topP: 1, seed: 5 } }) },
      { prompts: [ids(3, 20)], params: params({ maxTokens: 3 }) },
    ];
    const prefillTokens: number[] = [];
    const cachedTokens: number[] = [];
    for (const turn of turns) {
      const before = model.calls.filter((c) => c.op === "prefill").reduce((n, c) => n + (c as { tokens: number }).tokens, 0);
      const got = await submit(cached, turn);
      const want = await submit(plain, turn);
      expect(got.ids).toEqual(want.ids);
      expect(got.finish).toEqual(want.finish);
      expect(want.cached).toBe(0);
      cachedTokens.push(got.cached);
      const after = model.calls.filter((c) => c.op === "prefill").reduce((n, c) => n + (c as { tokens: number }).tokens, 0);
      prefillTokens.push(after - before);
    }
    // Turn 2 reuses the 40 history tokens (10 blocks of 4); turn 3 the same; turn 4 shares nothing.
    expect(cachedTokens).toEqual([0, 40, 40, 0]);
    expect(prefillTokens).toEqual([40, 8, 1, 3]);
    expect(cached.stats().cachedTokens).toBe(80);
  });

  it("keeps cached prefixes within the KV budget: they give way to admitted sequences, and outputs do not change", async () => {
    // 10 bytes a position, 1000 in all: cached prefixes get what the running sequences' reservations leave.
    const model = Object.assign(new FakeModel(), { kvBytesPerPosition: 10 });
    const prefixes = fakePrefixes(4, 1 << 20, 10);
    const s = new Scheduler(model, letters, new Set([EOS]), { ...OPTIONS, kvCacheBytes: 1000 }, "fake", prefixes);
    const plain = new Scheduler(new FakeModel(), letters, new Set([EOS]), OPTIONS, "fake");
    let worst = 0;
    const watch = () => (worst = Math.max(worst, prefixes.stats().bytes + s.stats().kvCacheReservedBytes));
    const run = async (request: Request) => {
      const got = await submit(s, request, watch);
      expect(got.ids).toEqual((await submit(plain, request)).ids);
      return got;
    };
    const history = ids(40, 1);
    await run({ prompts: [history], params: params({ maxTokens: 10 }) });
    expect(prefixes.stats()).toMatchObject({ bytes: 400, evictedBlocks: 0 });
    // The next turn reserves 58 positions (580 bytes): the history's 400 stay beside it and are reused; its own
    // prompt (480) does not fit beside it, so the cache keeps what it had.
    expect((await run({ prompts: [[...history, ...ids(8, 3)]], params: params({ maxTokens: 10 }) })).cached).toBe(40);
    expect(prefixes.stats()).toMatchObject({ bytes: 400, evictedBlocks: 0 });
    // A 60-token prompt reserving 700 bytes: the cached 480 give way, and its own 600 do not fit beside it either.
    await run({ prompts: [ids(60, 9, 29)], params: params({ maxTokens: 10 }) });
    expect(prefixes.stats().bytes).toBe(0);
    expect(prefixes.stats().evictedBlocks).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(1000);
    // Two at once, 300 bytes each: what they leave (400) holds one of their prompts, the other is evicted.
    await Promise.all([ids(20, 2, 31), ids(20, 5, 37)].map((p) => run({ prompts: [p], params: params({ maxTokens: 10 }) })));
    expect(worst).toBeLessThanOrEqual(1000);
    expect(prefixes.stats().bytes).toBeLessThanOrEqual(400);
  });

  it("a prompt repeated exactly still runs its last token, whose logits it needs", async () => {
    const model = new FakeModel();
    const s = new Scheduler(model, letters, new Set([EOS]), OPTIONS, "fake", fakePrefixes(4));
    const request = { prompts: [ids(12, 4)], params: params({ maxTokens: 3 }) };
    const first = await submit(s, request);
    const again = await submit(s, request);
    expect(again.ids).toEqual(first.ids);
    expect(again.cached).toBe(11);
  });
});

function argmaxPrompts(length: number, from: number): number[] {
  return Array.from({ length }, (_, i) => (from + i * 53) % 600);
}

describe("prefix reuse on the generated models", () => {
  for (const id of ["tiny-gpt2", "tiny-llama"]) {
    it(`${id}: multi-turn chats and a batch sharing a system prompt get the same token ids with and without the cache`, async () => {
      const dir = join(MODELS_DIR, id);
      const config = readDecoderConfig(dir);
      const decoder = await Decoder.open(dir, "model.onnx", config, { intraOpThreads: 1 });
      decoders.push(decoder);
      const eos = new Set(config.eosIds);
      const options = { ...OPTIONS, prefillChunk: 16 };
      // Counts the restores that handed back a cached block as it is (a next turn after the whole history).
      let uncopied = 0;
      const prefixes = new PrefixReuse<KvBlock, KvView>(new PrefixCache({ budgetBytes: 4 << 20, blockTokens: PREFIX_BLOCK_TOKENS }), {
        view: viewKv,
        restore: (views, length) => {
          const kv = kvFromViews(views, length);
          if (kv === views[0]!.source.kv) uncopied++;
          return kv;
        },
        compact: (source) => decoder.pack([source]),
      });
      const cached = new Scheduler(decoder, letters, eos, options, id, prefixes);
      const plain = new Scheduler(decoder, letters, eos, options, id);
      const greedy = (maxTokens: number) => params({ maxTokens });

      // A chat: every turn repeats the history (prompt and reply) and adds a message.
      let history = argmaxPrompts(37, 11);
      const reused: number[] = [];
      for (let turn = 0; turn < 3; turn++) {
        const request = { prompts: [history], params: greedy(8) };
        const got = await submit(cached, request);
        const want = await submit(plain, request);
        expect(got.ids).toEqual(want.ids);
        expect(got.ids[0]).toHaveLength(8);
        reused.push(got.cached);
        history = [...history, ...got.ids[0]!, ...argmaxPrompts(13, 100 + turn)];
      }
      // The whole of the previous turn's prompt (its last block partial), restored without a copy each time.
      expect(reused).toEqual([0, 37, 58]);
      expect(uncopied).toBe(2);

      // Eight requests at once behind one system prompt (cached by the first), of different lengths and samplers.
      const system = argmaxPrompts(40, 7);
      await submit(cached, { prompts: [system], params: greedy(1) });
      const batch: Request[] = Array.from({ length: 8 }, (_, i) => ({
        prompts: [[...system, ...argmaxPrompts(1 + i * 3, 300 + i)]],
        params: i % 2 === 0 ? greedy(10) : params({ maxTokens: 10, sampling: { temperature: 0.9, topP: 0.95, seed: i } }),
      }));
      const together = await Promise.all(batch.map((r) => submit(cached, r)));
      const alone = [];
      for (const r of batch) alone.push(await submit(plain, r));
      expect(together.map((o) => o.ids)).toEqual(alone.map((o) => o.ids));
      expect(together.map((o) => o.cached)).toEqual(batch.map(() => 40));
    });
  }
});

import { describe, expect, it } from "bun:test";
import { QueueFullError } from "../../src/engine/errors.ts";
import type { ChoiceEvent } from "../../src/engine/generation-job.ts";
import { EOS, FakeModel, letters } from "./fake-model.ts";
import { alone, params, prompt, scheduler, submit, type Request } from "./scheduler-harness.ts";

const MIXED: Request[] = [
  { prompts: [prompt(3)], params: { maxTokens: 9 } },
  { prompts: [prompt(11, 5)], params: { maxTokens: 4, sampling: { temperature: 1, topP: 1, seed: 7 } } },
  { prompts: [prompt(2, 9), prompt(7, 3)], params: { maxTokens: 7, sampling: { temperature: 0.7, topP: 0.9, seed: 1 } } },
  { prompts: [prompt(5, 4)], n: 3, params: { maxTokens: 5, sampling: { temperature: 1.3, topP: 1, seed: 99 } } },
  { prompts: [prompt(1, 8)], params: { maxTokens: 12 } },
];

describe("Scheduler", () => {
  it("decodes every active sequence in one run per step and gives each the output it has alone", async () => {
    const { model, scheduler: s } = scheduler();
    const together = await Promise.all(MIXED.map((r) => submit(s, r)));
    for (const [i, request] of MIXED.entries()) {
      const single = await alone(request);
      expect(together[i]!.ids).toEqual(single.ids);
      expect(together[i]!.finish).toEqual(single.finish);
      expect(together[i]!.tokens).toBe(single.tokens);
    }
    expect(Math.max(...model.decodes().map((d) => d.rows))).toBe(8);
    expect(s.stats()).toMatchObject({ rows: 0, queued: 0, prefilling: 0, peakRows: 8, generatedTokens: 9 + 4 + 14 + 15 + 12 });
  });

  it("delivers a prompt's first token before the decode step that follows its prefill", async () => {
    const model = new FakeModel();
    const eventsAtDecode: number[] = [];
    let delivered = 0;
    const decode = model.decode.bind(model);
    model.decode = (kv, tokens, lengths) => {
      eventsAtDecode.push(delivered);
      return decode(kv, tokens, lengths);
    };
    const s = scheduler({}, model).scheduler;
    await submit(s, { prompts: [prompt(4)], params: { maxTokens: 3 } }, (events) => {
      delivered += events.length;
    });
    expect(eventsAtDecode[0]).toBe(1);
  });

  it("feeds each step's cache straight back and re-packs only when a sequence joins or leaves", async () => {
    const { model, scheduler: s } = scheduler();
    await Promise.all([
      submit(s, { prompts: [prompt(4)], params: { maxTokens: 3 } }),
      submit(s, { prompts: [prompt(6)], params: { maxTokens: 8 } }),
    ]);
    const ops = model.calls.filter((c) => c.op !== "prefill");
    // The first request leaves after its third token: one pack to form the batch of 2, one when it shrinks to 1.
    expect(ops.map((c) => (c.op === "pack" ? `pack${c.rows}` : `decode${c.rows}`))).toEqual([
      "pack2", "decode2", "decode2", "pack1", "decode1", "decode1", "decode1", "decode1", "decode1",
    ]);
    const decodes = model.decodes();
    expect(decodes.map((d) => d.fresh)).toEqual([true, false, true, false, false, false, false]);
    // The batch never holds more positions than its longest sequence.
    expect(decodes.map((d) => d.width)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    expect(s.stats().packs).toBe(2);
  });

  it("prefills a long prompt in fixed chunks interleaved with decode steps", async () => {
    const { model, scheduler: s } = scheduler({ prefillChunk: 4 });
    const first = submit(s, { prompts: [prompt(2)], params: { maxTokens: 10 } });
    await Bun.sleep(0);
    const second = submit(s, { prompts: [prompt(10, 3)], params: { maxTokens: 2 } });
    const [, long] = await Promise.all([first, second]);
    const log = model.calls.map((c) => (c.op === "prefill" ? `P${c.tokens}` : c.op === "decode" ? `D${c.rows}` : "pack"));
    const start = log.indexOf("P4");
    expect(log.slice(start, start + 7)).toEqual(["P4", "D1", "P4", "D1", "P2", "pack", "D2"]);
    expect(long.ids).toEqual((await alone({ prompts: [prompt(10, 3)], params: { maxTokens: 2 } }, { prefillChunk: 4 })).ids);
  });

  it("prefills the prompts that wait together in one left-padded run, each with the output it has alone", async () => {
    const { model, scheduler: s } = scheduler();
    const requests: Request[] = [
      { prompts: [prompt(3)], params: { maxTokens: 5 } },
      { prompts: [prompt(7, 4)], params: { maxTokens: 8, sampling: { temperature: 1, topP: 1, seed: 5 } } },
      { prompts: [prompt(1, 9)], params: { maxTokens: 4 } },
      { prompts: [prompt(5, 6)], n: 2, params: { maxTokens: 6, sampling: { temperature: 0.8, topP: 0.9, seed: 12 } } },
    ];
    const together = await Promise.all(requests.map((r) => submit(s, r)));
    // The first request starts at once; the three that arrive while its prefill runs are prefilled in one run.
    expect(model.calls.filter((c) => c.op === "prefill")).toEqual([
      { op: "prefill", tokens: 3, rows: 1 },
      { op: "prefill", tokens: 7 + 1 + 5, rows: 3 },
    ]);
    for (const [i, request] of requests.entries()) expect(together[i]!.ids).toEqual((await alone(request)).ids);
    expect(s.stats().prefillTokens).toBe(16);
  });

  it("prefills a chunked long prompt next to short ones only when no padding would fall inside its row", async () => {
    const prefills = (model: FakeModel) =>
      model.calls.flatMap((c) => (c.op === "prefill" ? [`P${c.tokens}x${c.rows}`] : []));
    for (const [long, shorts, expected] of [
      // The long prompt's last chunk (3 tokens) is as long as the longest short one: its cache goes into the same run.
      [19, [2, 3], ["P8x1", "P8x1", "P8x3"]],
      // Its last chunk (2 tokens) is shorter than a short prompt (3): it runs alone, then the short ones together.
      [18, [3, 2], ["P8x1", "P8x1", "P2x1", "P5x2"]],
    ] as const) {
      const { model, scheduler: s } = scheduler({ prefillChunk: 8 });
      const requests: Request[] = [
        { prompts: [prompt(long, 3)], params: { maxTokens: 4, sampling: { temperature: 1, topP: 1, seed: 4 } } },
        ...shorts.map((n, i): Request => ({ prompts: [prompt(n, 10 + i)], params: { maxTokens: 5 } })),
      ];
      const together = await Promise.all(requests.map((r) => submit(s, r)));
      expect(prefills(model)).toEqual([...expected]);
      for (const [i, request] of requests.entries()) {
        expect(together[i]!.ids).toEqual((await alone(request, { prefillChunk: 8 })).ids);
      }
    }
  });

  it("prefills a prompt once for all its n choices", async () => {
    const { model, scheduler: s } = scheduler();
    const out = await submit(s, { prompts: [prompt(5)], n: 4, params: { sampling: { temperature: 1, topP: 1, seed: 3 } } });
    expect(model.calls.filter((c) => c.op === "prefill")).toHaveLength(1);
    expect(out.ids).toHaveLength(4);
    expect(new Set(out.ids.map((ids) => ids.join())).size).toBeGreaterThan(1);
  });

  it("stops a cancelled sequence within one step and frees its place", async () => {
    const { model, scheduler: s } = scheduler();
    const other = submit(s, { prompts: [prompt(3)], params: { maxTokens: 12 } });
    let seen = 0;
    const cancelled = await submit(s, { prompts: [prompt(4)], params: { maxTokens: 50 } }, (events, cancel) => {
      seen += events.length;
      if (seen >= 3) cancel();
    });
    expect(cancelled.ids[0]).toHaveLength(3);
    expect(cancelled.finish).toEqual([]);
    expect(cancelled.tokens).toBe(3);
    await other;
    const rows = model.decodes().map((d) => d.rows);
    // Two rows for the two tokens decoded before the cancel, then the other request alone.
    expect(rows.slice(0, 3)).toEqual([2, 2, 1]);
    expect(s.stats()).toMatchObject({ cancelled: 1, rows: 0, generatedTokens: 12 + 3 });
  });

  it("ends a sequence at EOS or at a stop string, and one that ends at once never joins the batch", async () => {
    const { model, scheduler: s } = scheduler({}, new FakeModel(true, false));
    const sampling = { temperature: 2, topP: 1, seed: 9 };
    const [greedy, sampled] = await Promise.all([
      // Greedy picks EOS at once here: one token, no text, no decode step.
      submit(s, { prompts: [prompt(4)], params: { maxTokens: 30 } }),
      submit(s, { prompts: [prompt(4)], params: { maxTokens: 30, sampling } }),
    ]);
    expect(greedy).toMatchObject({ ids: [[]], finish: ["stop"], tokens: 1 });
    expect(model.decodes().every((d) => d.rows === 1)).toBe(true);
    const ids = sampled.ids[0]!;
    expect(sampled.finish).toEqual(["stop"]);
    expect(ids.length).toBeGreaterThan(4);
    expect(ids).not.toContain(EOS);
    expect(sampled.tokens).toBe(ids.length + 1);
    const stop = letters.decode(ids.slice(2, 4));
    const stopped = await alone({ prompts: [prompt(4)], params: { maxTokens: 30, stop: [stop], sampling } }, {}, new FakeModel(true, false));
    expect(stopped.finish).toEqual(["stop"]);
    expect(stopped.ids[0]).toEqual(ids.slice(0, 2));
  });

  it("admits requests first come first served and refuses one beyond a full queue", async () => {
    const { model, scheduler: s } = scheduler({ maxBatch: 2, maxQueue: 2 });
    const firstAt: number[][] = [];
    const track = (i: number) => (events: ChoiceEvent[]) => {
      for (const e of events) (firstAt[i] ??= [])[e.index] ??= model.calls.length;
    };
    const runs = [
      submit(s, { prompts: [prompt(3)], params: { maxTokens: 6 } }, track(0)),
      submit(s, { prompts: [prompt(4)], params: { maxTokens: 3 } }, track(1)),
      // Needs two places: it takes the first one that frees and waits for a second; the request behind it waits too.
      submit(s, { prompts: [prompt(5)], n: 2, params: { maxTokens: 3 } }, track(2)),
      submit(s, { prompts: [prompt(2)], params: { maxTokens: 2 } }, track(3)),
    ];
    expect(s.stats()).toMatchObject({ queued: 2, prefilling: 2 });
    const extra = { prompts: [prompt(2)], choices: [{ prompt: 0, params: params() }], sink: { events() {}, done() {}, fail() {} } };
    expect(() => s.submit(extra)).toThrow(QueueFullError);
    await Promise.all(runs);
    const [a, b, c, d] = firstAt.map((choices) => Math.max(...choices));
    expect(a).toBe(b!);
    expect(b!).toBeLessThan(c!);
    expect(c!).toBeLessThan(d!);
    expect(s.stats()).toMatchObject({ peakRows: 2, queued: 0 });
  });

  it("runs a request with more choices than the batch holds, a few at a time", async () => {
    const { model, scheduler: s } = scheduler({ maxBatch: 2 });
    const out = await submit(s, { prompts: [prompt(5)], n: 5, params: { sampling: { temperature: 1, topP: 1, seed: 2 } } });
    expect(out.finish).toEqual(["length", "length", "length", "length", "length"]);
    expect(Math.max(...model.decodes().map((d) => d.rows))).toBe(2);
    expect(model.calls.filter((c) => c.op === "prefill")).toHaveLength(1);
  });

  it("fails the requests of a failed step and keeps serving", async () => {
    const { model, scheduler: s } = scheduler();
    model.failNextDecode = true;
    await expect(submit(s, { prompts: [prompt(3)] })).rejects.toThrow("decode failed");
    expect((await submit(s, { prompts: [prompt(3)] })).finish).toEqual(["length"]);
  });

  it("runs one sequence at a time for a model that cannot take left padding", async () => {
    const { model, scheduler: s } = scheduler({}, new FakeModel(false));
    await Promise.all(MIXED.slice(0, 3).map((r) => submit(s, r)));
    expect(model.decodes().every((d) => d.rows === 1)).toBe(true);
    expect(model.calls.every((c) => c.op !== "prefill" || c.rows === 1)).toBe(true);
  });
});

// ONNX Runtime threads that spin during a run (--ort-spinning on) give the numbers of threads that never spin.
import { afterAll, expect, it } from "bun:test";
import { join, resolve } from "node:path";
import { Decoder } from "../../src/engine/decoder.ts";
import { readDecoderConfig } from "../../src/engine/model-config.ts";

const dir = join(resolve(import.meta.dir, "../../models"), "tiny-gpt2");
const decoders: Decoder[] = [];
afterAll(async () => {
  await Promise.all(decoders.map((d) => d.release()));
});

it("a session whose threads spin while running gives the same logits as one whose threads never do", async () => {
  const config = readDecoderConfig(dir);
  const [calm, spinning] = await Promise.all(
    [false, true].map((spin) => Decoder.open(dir, "model.onnx", config, { intraOpThreads: 2, spinning: spin })),
  );
  decoders.push(calm!, spinning!);
  const prompt = [3, 14, 15, 92, 65, 35];
  const a = await calm!.prefill(prompt, calm!.emptyKv());
  const b = await spinning!.prefill(prompt, spinning!.emptyKv());
  expect(b.logits).toEqual(a.logits);
  const stepA = await calm!.decode(a.kv, [7], [prompt.length]);
  const stepB = await spinning!.decode(b.kv, [7], [prompt.length]);
  expect(stepB.logits).toEqual(stepA.logits);
});

// DecodeBuffers hands decode steps the buffers to write their output cache into: reused from step to step, and never
// the buffers of a block that may still be read (a step's own input, or a block not yet consumed or retired).
import { describe, expect, it } from "bun:test";
import { KvLayout, type KvBlock } from "../../src/engine/kv-block.ts";
import { DecodeBuffers } from "../../src/engine/kv-buffers.ts";

const layout = new KvLayout(["past_key_values.0.key", "past_key_values.0.value"], 2, 4, "float32");
/** mulberry32: a small seeded generator for the property test. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const lengthOf = (data: ArrayLike<number>) => [data.constructor.name, data.length];
const bufferOf = (kv: KvBlock) => (kv.tensors["past_key_values.0.key"]!.data as Float32Array).buffer;

/** What a decode step does with a lease: a block one position wider over the leased tensors. */
function step(buffers: DecodeBuffers, input: KvBlock): KvBlock {
  const lease = buffers.lease(input, input.rows, input.width + 1);
  const block = { rows: input.rows, width: input.width + 1, tensors: lease.tensors };
  expect(lease.tensors["past_key_values.0.key"]!.dims).toEqual([input.rows, 2, input.width + 1, 4]);
  lease.commit(block);
  return block;
}

describe("DecodeBuffers", () => {
  it("writes one batch's steps into two sets in turn, without allocating per step", () => {
    const buffers = new DecodeBuffers(layout);
    let kv = layout.pack([{ kv: layout.empty(1), row: 0, length: 0 }, { kv: layout.empty(1), row: 0, length: 0 }]);
    const seen: ArrayBufferLike[] = [];
    for (let i = 0; i < 40; i++) {
      kv = step(buffers, kv);
      seen.push(bufferOf(kv));
    }
    // Two distinct buffers alternate (slack of 64 positions: no growth within 40 steps).
    expect(new Set(seen).size).toBe(2);
    for (let i = 2; i < seen.length; i++) expect(seen[i]).toBe(seen[i - 2]!);
    expect(seen[1]).not.toBe(seen[0]);
    // Set one was sized at width 1 (+64 slack), set two at width 2; two tensors each, 2 rows × 2 heads × 4 floats.
    expect(buffers.bytes).toBe(2 * (2 * 2 * 4 * 4) * (65 + 66));
    buffers.clear();
    expect(buffers.bytes).toBe(0);
  });

  it("keeps each step's logits with its cache: reused every other step, never the previous step's", () => {
    const buffers = new DecodeBuffers(layout);
    let kv = layout.pack([{ kv: layout.empty(1), row: 0, length: 0 }]);
    const seen: Float32Array[] = [];
    for (let i = 0; i < 6; i++) {
      const lease = buffers.lease(kv, 1, kv.width + 1);
      const logits = lease.logits("float32", 10) as Float32Array;
      logits.fill(i);
      const block = { rows: 1, width: kv.width + 1, tensors: lease.tensors };
      lease.commit(block);
      kv = block;
      seen.push(logits);
    }
    // The last two steps' logits are intact; each buffer alternates between two sets.
    expect(Array.from(seen[5]!)).toEqual(new Array(10).fill(5));
    expect(Array.from(seen[4]!)).toEqual(new Array(10).fill(4));
    expect(seen[5]!.buffer).toBe(seen[3]!.buffer);
    expect(seen[4]!.buffer).not.toBe(seen[5]!.buffer);
    expect(lengthOf(buffers.lease(kv, 1, kv.width + 1).logits("float16", 10))).toEqual(["Uint16Array", 10]);
  });

  it("grows a set when a step outgrows it and replaces one four times too large", () => {
    const buffers = new DecodeBuffers(layout);
    const wide = layout.pack([{ kv: layout.empty(1), row: 0, length: 0 }]);
    let kv: KvBlock = { ...wide, width: 100 };
    kv = step(buffers, kv);
    const first = (kv.tensors["past_key_values.0.key"]!.data as Float32Array).buffer.byteLength;
    expect(first).toBe(1 * 2 * (101 + 64) * 4 * 4);
    // Eight rows no longer fit: new, larger buffers.
    const eight = { rows: 8, width: 100, tensors: {} };
    const lease = buffers.lease(eight, 8, 101);
    expect((lease.tensors["past_key_values.0.key"]!.data as Float32Array).buffer.byteLength).toBe(8 * 2 * 165 * 4 * 4);
  });

  it("never leases the buffers of a block that may still be read, whatever the order of steps (property)", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const next = random(seed);
      const buffers = new DecodeBuffers(layout);
      const fresh = (): KvBlock => layout.pack([{ kv: layout.empty(1), row: 0, length: 0 }]);
      // Blocks callers may still read: produced by a step and neither consumed by a later step nor retired.
      const live = new Set<KvBlock>();
      let chains: KvBlock[] = [fresh(), fresh()];
      for (let op = 0; op < 60; op++) {
        const pick = Math.floor(next() * 5);
        const c = Math.floor(next() * chains.length);
        const input = chains[c]!;
        if (pick === 4) {
          // Re-pack: the chain's block is copied into a fresh one and retired.
          buffers.retire(input);
          live.delete(input);
          chains[c] = fresh();
          continue;
        }
        const lease = buffers.lease(input, input.rows, input.width + 1);
        const target = (lease.tensors["past_key_values.0.key"]!.data as Float32Array).buffer;
        expect(target === bufferOf(input)).toBe(false);
        for (const block of live) expect(target === bufferOf(block)).toBe(false);
        const block = { rows: input.rows, width: input.width + 1, tensors: lease.tensors };
        if (pick === 3) continue; // the step failed: no commit, the input is still the chain's block
        lease.commit(block);
        live.delete(input);
        live.add(block);
        chains[c] = block;
        if (pick === 2) chains = [...chains.slice(0, c), input, ...chains.slice(c)].slice(0, 3); // someone re-reads the old block
      }
    }
  });
});

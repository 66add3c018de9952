/**
 * Seeded random streams. A request's seed is a signed 64-bit integer (OpenAI accepts -2^63 … 2^63-1); every choice of
 * the request gets its own stream, derived from (seed, choice index) through SplitMix64's finaliser, so choice 1 of
 * seed s shares nothing with choice 0 of seed s+1, and distinct seeds give distinct streams.
 */

const MASK64 = (1n << 64n) - 1n;

/** SplitMix64's output function (Steele, Lea, Flood 2014): a bijection of 64-bit words with full avalanche. */
export function mix64(x: bigint): bigint {
  let z = (x + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** The stream seed of choice `index` of a request seeded with `seed` (any 64-bit value, signed or not). */
export function choiceSeed(seed: bigint, index: number): bigint {
  return mix64((mix64(BigInt.asUintN(64, seed)) + BigInt(index)) & MASK64);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Deterministic PRNG (xoshiro128**, 128-bit state) yielding doubles in [0, 1). The state is two more SplitMix64
 * outputs of the seed, so it is never all zero in practice and nearby seeds start far apart. With no seed the state
 * comes from the OS CSPRNG.
 */
export function createRng(seed?: bigint | number): () => number {
  const words = new Uint32Array(4);
  if (seed === undefined) crypto.getRandomValues(words);
  else {
    const s = BigInt.asUintN(64, typeof seed === "bigint" ? seed : BigInt(Math.trunc(seed)));
    const first = mix64(s);
    const second = mix64(s ^ 0x5851f42d4c957f2dn);
    words.set([Number(first >> 32n), Number(first & 0xffffffffn), Number(second >> 32n), Number(second & 0xffffffffn)]);
  }
  let [a, b, c, d] = [words[0]! | 0, words[1]! | 0, words[2]! | 0, words[3]! | 0];
  if ((a | b | c | d) === 0) a = 1;

  const next32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9);
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result >>> 0;
  };
  return () => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
}

/**
 * GPT-2's byte-level BPE alphabet (`bytes_to_unicode` in OpenAI's encoder.py, used by every byte-level tokenizer.json):
 * each byte is written as one printable character, so a vocabulary string gives its token's exact bytes back, even for
 * a token that holds part of a multi-byte character.
 */
export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>();
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let shifted = 0;
  for (let b = 0; b < 256; b++) map.set(String.fromCharCode(printable(b) ? b : 256 + shifted++), b);
  return map;
})();

/** A vocabulary string's bytes: byte-level BPE characters, or a SentencePiece byte-fallback piece (`<0xE2>`). */
export function vocabBytes(token: string): number[] | undefined {
  const fallback = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
  if (fallback) return [parseInt(fallback[1]!, 16)];
  const bytes: number[] = [];
  for (const ch of token) {
    const b = UNICODE_TO_BYTE.get(ch);
    if (b === undefined) return undefined;
    bytes.push(b);
  }
  return bytes;
}

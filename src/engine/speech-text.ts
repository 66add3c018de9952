/**
 * Splits text to be spoken into sentences, so that audio can be sent while the rest is still being synthesized.
 * Every character of the input lands in exactly one piece (joining the pieces gives the input back); a piece ends
 * after sentence punctuation and the spaces that follow it, or at a line break.
 */
export function speechPieces(text: string): string[] {
  const pieces = text.match(/[^.!?\n]*(?:[.!?]+["')\]]*|\n)\s*|[^.!?\n]+$/g) ?? [];
  return pieces.filter((piece) => piece.length > 0);
}

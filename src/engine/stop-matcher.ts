/**
 * Streaming detection of OpenAI `stop` sequences over decoded text.
 *
 * Text arrives in arbitrary chunks (one per token), and a stop string may
 * straddle several of them, so anything that could still turn out to be the
 * beginning of a stop string is held back until it is confirmed or disproved.
 */

export interface StopResult {
  /** Text that is safe to emit now. */
  text: string;
  stopped: boolean;
}

export class StopMatcher {
  private readonly stops: readonly string[];
  private held = "";
  private done = false;
  /** The stop string that matched, once one has. */
  matched: string | undefined;

  /** Up to 4 non-empty strings (validated by the caller); an empty list makes this a pass-through. */
  constructor(stops: readonly string[]) {
    // An empty stop would match everywhere; treat it as absent rather than stopping at once.
    this.stops = stops.filter((s) => s.length > 0);
  }

  /**
   * Feeds newly decoded text. When a stop string completes, returns the text
   * before it with `stopped: true`; the stop string and anything after it are
   * never emitted, and later calls return nothing.
   */
  push(chunk: string): StopResult {
    if (this.done) return { text: "", stopped: true };
    if (this.stops.length === 0) return { text: chunk, stopped: false };

    const buffer = this.held + chunk;
    // Everything before `held` was already checked, so only matches that end
    // inside this buffer are new. The match that *ends* first wins (ties: the
    // one starting first), which is what character-by-character streaming
    // would see; the outcome therefore does not depend on how text is chunked.
    let bestStart = -1;
    let bestEnd = Infinity;
    for (const stop of this.stops) {
      const start = buffer.indexOf(stop);
      if (start < 0) continue;
      const end = start + stop.length;
      if (end < bestEnd || (end === bestEnd && start < bestStart)) {
        bestStart = start;
        bestEnd = end;
        this.matched = stop;
      }
    }
    if (bestStart >= 0) {
      this.done = true;
      this.held = "";
      return { text: buffer.slice(0, bestStart), stopped: true };
    }

    const keep = this.partialSuffixLength(buffer);
    this.held = buffer.slice(buffer.length - keep);
    return { text: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** End of generation without a stop: releases whatever was held back. */
  flush(): string {
    const rest = this.done ? "" : this.held;
    this.held = "";
    return rest;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  private partialSuffixLength(text: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let k = Math.min(stop.length - 1, text.length); k > longest; k--) {
        if (text.startsWith(stop.slice(0, k), text.length - k)) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }
}

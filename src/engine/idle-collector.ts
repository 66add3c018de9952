/**
 * Runs a full garbage collection once the engine has been idle for a moment. Every decoding step leaves large
 * buffers behind (ONNX Runtime copies its outputs into new ArrayBuffers); collecting between bursts returns the
 * memory to its floor instead of letting it ride up until the collector's own heuristics fire.
 */
export class IdleCollector {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly delayMs = 100,
    private readonly collect: () => void = () => Bun.gc(true),
  ) {}

  /** Work started: an idle collection planned earlier would only slow it down. */
  busy(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** No work left: collect after `delayMs` unless work starts again first. */
  idle(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.collect();
    }, this.delayMs);
    this.timer.unref?.();
  }
}

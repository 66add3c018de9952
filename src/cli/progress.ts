import type { DownloadProgress } from "../hub/download.ts";

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * A progress bar redrawn in place on a terminal; on anything else (logs, CI) one line per file, so the output stays
 * readable when captured.
 */
export class Progress {
  private lastDraw = 0;
  private started = performance.now();

  constructor(
    private readonly tty: boolean,
    private readonly write: (text: string) => void,
  ) {}

  begin(path: string, size: number, resumeFrom: number): void {
    this.started = performance.now();
    if (!this.tty) this.write(`downloading ${path} (${mb(size)}${resumeFrom > 0 ? `, resuming at ${mb(resumeFrom)}` : ""})\n`);
  }

  update(p: DownloadProgress): void {
    if (!this.tty) return;
    const now = performance.now();
    if (now - this.lastDraw < 100 && p.done < p.file.size) return;
    this.lastDraw = now;
    const fraction = p.file.size > 0 ? p.done / p.file.size : 1;
    const width = 30;
    const filled = Math.round(fraction * width);
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? (p.done - p.resumedFrom) / seconds : 0;
    const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
    this.write(`\r${p.file.path} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${mb(p.done)}/${mb(p.file.size)} ${mb(rate)}/s\u001b[K`);
  }

  end(path: string, outcome: "kept" | "downloaded", size: number): void {
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1);
    const line = outcome === "kept" ? `${path}: already here, checksum verified` : `${path}: ${mb(size)} in ${seconds} s, checksum verified`;
    this.write(this.tty ? `\r${line}\u001b[K\n` : `${line}\n`);
  }
}

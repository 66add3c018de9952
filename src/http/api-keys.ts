import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { OPEN_PATHS } from "./auth.ts";

function digest(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/**
 * The keys clients may present. Only SHA-256 digests are kept, and a candidate is compared with every one of them
 * through `timingSafeEqual` on equal-length digests, so neither the keys' contents nor their lengths leak through
 * response timing.
 */
export class ApiKeys {
  private digests: Buffer[] = [];
  private fileKeyCount = 0;

  constructor(
    private readonly fixed: readonly string[],
    private readonly file?: string,
  ) {
    this.reload();
  }

  /**
   * Re-reads the key file (one key per line, blank lines and `#` comments skipped). A file that cannot be read
   * keeps the keys already in force: a typo during rotation must not open, or lock, the server.
   */
  reload(): void {
    let fromFile: string[] = [];
    if (this.file) {
      const text = readFileSync(this.file, "utf8");
      fromFile = text
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line.length > 0 && !line.startsWith("#"));
    }
    this.fileKeyCount = fromFile.length;
    this.digests = [...this.fixed, ...fromFile].map(digest);
  }

  /** With a key file configured the server stays closed even while the file is empty. */
  get required(): boolean {
    return this.fixed.length > 0 || this.file !== undefined;
  }

  accepts(candidate: string | undefined): boolean {
    if (!candidate) return false;
    const wanted = digest(candidate);
    let match = false;
    for (const known of this.digests) match = timingSafeEqual(known, wanted) || match;
    return match;
  }

  /** One line for the start-up log, naming the routes open without a key; never prints a key. */
  describe(openPaths: Iterable<string> = OPEN_PATHS): string {
    if (!this.required) {
      return "no API key is set: anyone who can reach this address may use every route (set --api-key, API_KEYS or --api-key-file)";
    }
    const sources = [`${this.fixed.length} from --api-key/API_KEYS`];
    if (this.file) sources.push(`${this.fileKeyCount} from ${this.file} (re-read on SIGHUP)`);
    const open = [...new Set(openPaths)].join(", ");
    return `API keys required on every route except ${open} and CORS preflights (OPTIONS): ${sources.join(", ")}`;
  }
}

/** Key rotation without a restart: `kill -HUP <pid>` re-reads the key file. */
export function reloadKeysOnSighup(keys: ApiKeys, log: (line: string) => void = console.log): void {
  process.on("SIGHUP", () => {
    try {
      keys.reload();
      log(`[gpt3dev] SIGHUP: ${keys.describe()}`);
    } catch (error) {
      log(`[gpt3dev] SIGHUP: key file not reloaded, the previous keys stay in force: ${error instanceof Error ? error.message : error}`);
    }
  });
}

/** Something the cache can unload (releases ONNX sessions). */
export interface Releasable {
  release(): Promise<void> | void;
}

export interface Lease<T> {
  readonly model: T;
  /** Call when the request is done with the model; an evicted model is freed after its last lease ends. */
  done(): void;
}

interface Entry<T> {
  loading: Promise<T>;
  model?: T;
  leases: number;
  lastUsed: number;
}

/**
 * Loads models on first use and shares them. Only idle models (no open lease) are unloaded.
 * Concurrent first requests share one in-flight load; a failed load is
 * forgotten so the next request retries it. Beyond `maxLoaded` models, the least recently used idle one is unloaded.
 */
export class ModelCache<T extends Releasable> {
  private readonly entries = new Map<string, Entry<T>>();
  private clock = 0;

  constructor(
    private readonly load: (id: string) => Promise<T>,
    private readonly maxLoaded: number,
  ) {
    if (!(maxLoaded >= 1)) throw new Error("maxLoaded must be at least 1");
  }

  async acquire(id: string): Promise<Lease<T>> {
    let entry = this.entries.get(id);
    if (!entry) {
      const created: Entry<T> = { loading: this.load(id), leases: 0, lastUsed: 0 };
      entry = created;
      this.entries.set(id, created);
      created.loading.then(
        (model) => {
          created.model = model;
          this.evictIdle();
        },
        () => {
          if (this.entries.get(id) === created) this.entries.delete(id);
        },
      );
    }
    entry.leases++;
    entry.lastUsed = ++this.clock;
    let model: T;
    try {
      model = await entry.loading;
    } catch (error) {
      entry.leases--;
      throw error;
    }
    const held = entry;
    let ended = false;
    return {
      model,
      done: () => {
        if (ended) return;
        ended = true;
        held.leases--;
        held.lastUsed = ++this.clock;
        this.evictIdle();
      },
    };
  }

  /** The model, if it is loaded; no lease is taken, so only look at it. */
  peek(id: string): T | undefined {
    return this.entries.get(id)?.model;
  }

  /** Ids of models currently loaded (or loading). */
  loadedIds(): string[] {
    return [...this.entries.keys()];
  }

  async unloadAll(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map(async (e) => (await e.loading.catch(() => undefined))?.release()));
  }

  private evictIdle(): void {
    const loaded = [...this.entries].filter(([, e]) => e.model !== undefined);
    let excess = this.entries.size - this.maxLoaded;
    const victims = loaded.sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
    for (const [id, entry] of victims) {
      if (excess <= 0) break;
      if (entry.leases > 0) continue;
      this.entries.delete(id);
      void entry.model?.release();
      excess--;
    }
  }
}

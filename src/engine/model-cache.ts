/** Something the cache can unload (releases ONNX sessions). */
export interface Releasable {
  release(): Promise<void> | void;
}

export interface Lease<T> {
  readonly model: T;
  /** Call when the request is done with the model; an evicted model is freed after its last lease ends. */
  done(): void;
}

export interface ModelCacheOptions {
  /**
   * How long a model may stay loaded with no lease before it is unloaded (milliseconds); undefined: until evicted
   * (LRU beyond `maxLoaded`) or unloaded on request.
   */
  keepAliveMs?: (id: string) => number | undefined;
}

interface Entry<T> {
  loading: Promise<T>;
  model?: T;
  leases: number;
  lastUsed: number;
  idleTimer?: ReturnType<typeof setTimeout>;
  /** Set once an unload was asked for: it settles when the model is released (after its last lease). */
  draining?: Promise<void>;
  drained?: () => void;
}

/**
 * Loads models on first use and shares them. Only idle models (no open lease) are unloaded.
 * Concurrent first requests share one in-flight load; a failed load is
 * forgotten so the next request retries it. Beyond `maxLoaded` models, the least recently used idle one is unloaded;
 * a model idle for its keep-alive time is unloaded too. An unload asked for while requests hold the model waits for
 * them to finish (as Ollama does); requests arriving meanwhile wait for it, then load the model again.
 */
export class ModelCache<T extends Releasable> {
  private readonly entries = new Map<string, Entry<T>>();
  private clock = 0;

  constructor(
    private readonly load: (id: string) => Promise<T>,
    private readonly maxLoaded: number,
    private readonly options: ModelCacheOptions = {},
  ) {
    if (!(maxLoaded >= 1)) throw new Error("maxLoaded must be at least 1");
  }

  async acquire(id: string): Promise<Lease<T>> {
    let entry = this.entries.get(id);
    while (entry?.draining) {
      await entry.draining;
      entry = this.entries.get(id);
    }
    if (!entry) {
      const created: Entry<T> = { loading: this.load(id), leases: 0, lastUsed: 0 };
      entry = created;
      this.entries.set(id, created);
      created.loading.then(
        (model) => {
          created.model = model;
          this.evictIdle();
          if (created.leases === 0) this.scheduleIdleUnload(id, created);
        },
        () => {
          if (this.entries.get(id) === created) this.entries.delete(id);
        },
      );
    }
    entry.leases++;
    entry.lastUsed = ++this.clock;
    clearTimeout(entry.idleTimer);
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
        if (held.leases === 0 && held.draining) this.release(id, held);
        else {
          this.evictIdle();
          if (held.leases === 0) this.scheduleIdleUnload(id, held);
        }
      },
    };
  }

  /**
   * Unloads the model once no request holds it; resolves when it is released. False when it was not loaded (a load
   * in progress is waited for, then unloaded).
   */
  async unload(id: string): Promise<boolean> {
    const entry = this.entries.get(id);
    if (!entry) return false;
    if (!entry.draining) {
      entry.draining = new Promise<void>((resolve) => (entry.drained = resolve));
      clearTimeout(entry.idleTimer);
      const loaded = await entry.loading.then(
        () => true,
        () => false,
      );
      if (!loaded) {
        if (this.entries.get(id) === entry) this.entries.delete(id);
        entry.drained?.();
        return false;
      }
      if (entry.leases === 0) this.release(id, entry);
    }
    await entry.draining;
    return true;
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
    for (const entry of entries) clearTimeout(entry.idleTimer);
    await Promise.all(entries.map(async (e) => (await e.loading.catch(() => undefined))?.release()));
    for (const entry of entries) entry.drained?.();
  }

  private release(id: string, entry: Entry<T>): void {
    clearTimeout(entry.idleTimer);
    if (this.entries.get(id) === entry) this.entries.delete(id);
    const done = () => entry.drained?.();
    void Promise.resolve(entry.model?.release()).then(done, done);
  }

  private scheduleIdleUnload(id: string, entry: Entry<T>): void {
    const ms = this.options.keepAliveMs?.(id);
    if (ms === undefined || entry.model === undefined) return;
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => {
      if (this.entries.get(id) === entry && entry.leases === 0 && !entry.draining) void this.unload(id);
    }, ms);
    entry.idleTimer.unref?.();
  }

  private evictIdle(): void {
    const loaded = [...this.entries].filter(([, e]) => e.model !== undefined);
    let excess = this.entries.size - this.maxLoaded;
    const victims = loaded.sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
    for (const [id, entry] of victims) {
      if (excess <= 0) break;
      if (entry.leases > 0 || entry.draining) continue;
      this.release(id, entry);
      excess--;
    }
  }
}

import type { BatchModel, KvShape, RowSource } from "./batch-model.ts";
import type { Choice } from "./scheduler-jobs.ts";

/**
 * The rows a scheduler decodes together and their shared cache. The cache is re-packed only when rows join or leave;
 * otherwise each step's output cache is the next step's input as it is.
 */
export class DecodeBatch<K extends KvShape> {
  rows: Choice<K>[] = [];
  kv: K | undefined;
  /** Times the cache was rebuilt because rows joined or left. */
  packs = 0;

  constructor(
    private readonly model: BatchModel<K>,
    /** Told about rows whose cache cannot be packed; it must end them (state "done"). */
    private readonly onPackFailed: (rows: Choice<K>[], error: unknown) => void,
  ) {}

  /**
   * Drops the rows that are no longer active and packs `joining` in after the others. A row that stays keeps its
   * place unless a row before it left: the last rows move into the places left (so a model that packs in place copies
   * only the rows that moved and those that joined).
   */
  update(joining: readonly Choice<K>[]): void {
    const kept = keptInPlace(this.rows);
    const joined = joining.filter((c) => c.state === "active");
    if (joined.length === 0 && kept.length === this.rows.length) return;
    const sources = kept.map(({ c, row }): RowSource<K> => ({ kv: this.kv!, row, length: c.length }));
    for (const c of joined) sources.push({ ...c.source!, length: c.length });
    for (const c of joining) c.source = undefined;
    this.repack([...kept.map(({ c }) => c), ...joined], sources);
  }

  clear(): void {
    this.rows = [];
    this.kv = undefined;
    this.model.releaseDecodeBuffers?.();
  }

  /**
   * Builds the cache from its rows' sources. When packing fails, each row is packed alone to find the ones that cannot
   * be: they fail, the others go on in a batch without them.
   */
  private repack(rows: Choice<K>[], sources: RowSource<K>[]): void {
    const old = this.kv;
    this.rows = rows;
    this.kv = undefined;
    if (rows.length === 0) return this.retire(old);
    try {
      this.kv = this.model.pack(sources, true);
      this.packs++;
      return this.retire(old);
    } catch (error) {
      const bad = rows.filter((_, i) => !this.packsAlone(sources[i]!));
      // No single row to blame: the batch as a whole cannot be packed.
      this.onPackFailed(bad.length > 0 ? bad : rows, error);
    }
    const keep = rows.map((c, i) => ({ c, source: sources[i]! })).filter(({ c }) => c.state === "active");
    if (keep.length === rows.length) throw new Error("rows whose cache could not be packed were not ended");
    this.repack(
      keep.map(({ c }) => c),
      keep.map(({ source }) => source),
    );
    this.retire(old);
  }

  /** The block the batch decoded from before a re-pack is read no more. */
  private retire(kv: K | undefined): void {
    if (kv) this.model.retire?.(kv);
  }

  private packsAlone(source: RowSource<K>): boolean {
    try {
      this.model.pack([source]);
      return true;
    } catch {
      return false;
    }
  }
}

/** The active rows with their current row numbers, each row that left filled by the last active row after it. */
export function keptInPlace<C extends { state: string }>(rows: readonly C[]): { c: C; row: number }[] {
  const kept = rows.map((c, row) => ({ c, row })).filter(({ c }) => c.state === "active");
  const stay = kept.filter(({ row }) => row < kept.length);
  const moving = kept.filter(({ row }) => row >= kept.length);
  const out: { c: C; row: number }[] = [];
  for (let slot = 0, next = 0; slot < kept.length; slot++) {
    const here = stay.find(({ row }) => row === slot);
    out.push(here ?? moving[next++]!);
  }
  return out;
}

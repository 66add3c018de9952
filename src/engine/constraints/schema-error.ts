/** A schema the compiler cannot enforce: `keyword` is the JSON Schema keyword, `path` a JSON pointer to it. */
export class SchemaError extends Error {
  constructor(
    readonly keyword: string,
    readonly path: string,
    detail: string,
  ) {
    super(`${detail} (keyword '${keyword}' at '${path || "/"}')`);
    this.name = "SchemaError";
  }
}

export type Schema = Record<string, unknown>;

/** A non-negative integer keyword (minItems, maxLength, …), or undefined when absent. */
export function count(value: unknown, keyword: string, path: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new SchemaError(keyword, `${path}/${keyword}`, `'${keyword}' must be a non-negative integer`);
  }
  return value;
}

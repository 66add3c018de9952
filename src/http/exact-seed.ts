/**
 * OpenAI's `seed` is a signed 64-bit integer, but JSON.parse reads numbers as doubles: past 2^53 neighbouring seeds
 * collapse into one. The body parser reads a request's top-level `seed` from its own digits instead (JSON.parse's
 * source text access) and keeps it beside the request (the body itself is copied by validation), where the routes
 * take it from.
 */
const exactSeeds = new WeakMap<Request, bigint>();

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;

/** JSON.parse, also noting the exact digits of a top-level integer `seed` too large for a double. */
export function parseJsonBody(text: string, request: Request): unknown {
  const sources = new Map<unknown, string>();
  const reviver: Reviver = function (key, value, context) {
    if (key === "seed" && typeof value === "number" && !Number.isSafeInteger(value) && context?.source) {
      if (/^-?(0|[1-9][0-9]*)$/.test(context.source)) sources.set(this, context.source);
    }
    return value;
  };
  const body: unknown = JSON.parse(text, reviver as (key: string, value: unknown) => unknown);
  const source = sources.get(body);
  if (source !== undefined) exactSeeds.set(request, BigInt(source));
  return body;
}

/** The exact seed of a request's body parsed by `parseJsonBody`, when it differs from the double the body holds. */
export function exactSeedOf(request: Request): bigint | undefined {
  return exactSeeds.get(request);
}

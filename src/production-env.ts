// Imported first by src/main.ts, before the web framework loads. Elysia reads NODE_ENV once, as it loads, and outside
// production it writes the whole offending value into each validation error's message (JSON.stringify with
// indentation: seconds of the event loop for a deeply nested body, out of memory for a large one). The server never
// sends that text (its own error mapping, src/errors.ts, names the field), so Elysia loads in production mode
// whatever NODE_ENV says; main.ts then puts the variable back as it was (restoreNodeEnv).
const original = process.env.NODE_ENV;
process.env.NODE_ENV = "production";

export function restoreNodeEnv(): void {
  if (original === undefined) delete process.env.NODE_ENV;
  else process.env.NODE_ENV = original;
}

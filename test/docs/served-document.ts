// The OpenAPI document an app built from the default flags serves, and a check of real answers against it.
import Ajv2020 from "ajv/dist/2020";
import { appFromFlags, get } from "../http/app.ts";

export type Json = Record<string, any>;

export const app = appFromFlags();
export const document = (await (await app.handle(get("/openapi.json"))).json()) as Json;

/** Checks a real answer against the schema the document gives for it: "valid", or what is wrong. */
export function validAgainst(schema: Json, value: unknown): string {
  const ajv = new Ajv2020({ strict: false, allErrors: true, formats: { integer: /^-?\d+$/ } });
  ajv.addSchema({ $id: "doc", components: document.components });
  const resolved = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/')) as Json;
  const validate = ajv.compile(resolved);
  return validate(value) ? "valid" : JSON.stringify(validate.errors);
}

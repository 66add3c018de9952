import { describe, expect, it } from "bun:test";
import { join } from "node:path";
import { renderChat } from "../../src/engine/completions.ts";
import { InvalidInputError, TemplateRenderError } from "../../src/engine/errors.ts";
import type { TextModel } from "../../src/engine/text-model.ts";
import { Tokenizer } from "../../src/engine/tokenizer.ts";
import { MODELS_DIR } from "../http/app.ts";

const tokenizer = await Tokenizer.load(join(MODELS_DIR, "tiny-llama"));
const messages = [{ role: "user" as const, content: "hi" }];
/** What renderChat reads of a model: its spec's template and its tokenizer. */
const modelWith = (chatTemplate?: string) => ({ spec: { id: "m", chatTemplate }, tokenizer }) as unknown as TextModel;

describe("chat template per request", () => {
  it("blames what the request changed when a template fails", () => {
    const strict = "{% if strict %}{{ raise_exception('strict mode') }}{% endif %}{{ messages[0].content }}";
    const blame = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(TemplateRenderError);
        return [(error as TemplateRenderError).argument, (error as TemplateRenderError).reason];
      }
      throw new Error("expected a TemplateRenderError");
    };
    expect(blame(() => renderChat(modelWith(strict), messages, undefined, { variables: { strict: true } }))).toEqual(["templateVariables", "strict mode"]);
    expect(blame(() => renderChat(modelWith(), messages, undefined, { source: strict, variables: { strict: true } }))).toEqual(["template", "strict mode"]);
    expect(blame(() => renderChat(modelWith(strict.replace("{% endif %}", "")), messages))[0]).toBe("messages");
    expect(renderChat(modelWith(strict), messages, undefined, { variables: { strict: false } })).toEqual(tokenizer.encode("hi", false));
  });

  it("refuses every variable name the server sets itself", () => {
    for (const name of ["messages", "tools", "add_generation_prompt", "chat_template", "tokenize"]) {
      expect(() => tokenizer.renderChat(messages, undefined, undefined, { [name]: 1 })).toThrow(InvalidInputError);
    }
  });

  it("keeps at most a few compiled request templates", () => {
    const cache = (tokenizer as unknown as { inner: { _compiled_template_cache: Map<string, unknown> } }).inner._compiled_template_cache;
    for (let i = 0; i < 50; i++) tokenizer.renderChat(messages, `T${i} {{ messages[0].content }}`);
    expect(cache.size).toBeLessThanOrEqual(9);
    expect(tokenizer.renderChat(messages, "T49 {{ messages[0].content }}")).toEqual(tokenizer.encode("T49 hi", false));
  });
});

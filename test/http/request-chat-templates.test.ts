import { describe, expect, it } from "bun:test";
import { appFromFlags, post } from "./app.ts";

describe("--request-chat-templates off", () => {
  it("refuses a request's chat_template by name on chat and /tokenize, and still takes chat_template_kwargs", async () => {
    const app = appFromFlags(["--request-chat-templates", "off"]);
    const messages = [{ role: "user", content: "hi" }];
    for (const [path, extra] of [["/v1/chat/completions", { max_tokens: 1 }], ["/tokenize", {}]] as const) {
      const refused = await app.handle(post(path, { model: "tiny-llama", messages, chat_template: "{{ messages[0].content }}", ...extra }));
      expect(refused.status).toBe(400);
      const body = (await refused.json()) as { error: { param: string; code: string; message: string } };
      expect([body.error.param, body.error.code]).toEqual(["chat_template", "unsupported_parameter"]);
      expect(body.error.message).toContain("--request-chat-templates off");
      const kwargs = await app.handle(post(path, { model: "tiny-llama", messages, chat_template_kwargs: { enable_thinking: false }, ...extra }));
      expect(kwargs.status).toBe(200);
    }
  });
});

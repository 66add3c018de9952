import { describe, expect, it } from "bun:test";
import { appFromFlags, post } from "./app.ts";

describe("POST /v1/moderations limits", () => {
  it("holds each input to --max-prompt-chars and the count to --max-prompts, naming the field", async () => {
    const app = appFromFlags(["--max-prompt-chars", "10", "--max-prompts", "2"]);
    const cases: Array<[unknown, string]> = [
      ["x".repeat(11), "input"],
      [["ok", "x".repeat(11)], "input[1]"],
      [["a", "b", "c"], "input"],
      [[{ type: "text", text: "x".repeat(6) }, { type: "text", text: "y".repeat(6) }], "input"],
    ];
    for (const [input, param] of cases) {
      const response = await app.handle(post("/v1/moderations", { model: "tiny-moderation", input }));
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { param: string; code: string } };
      expect([body.error.param, body.error.code]).toEqual([param, "limit_exceeded"]);
    }
  });
});

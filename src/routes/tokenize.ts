import { Elysia } from "elysia";
import type { Limits } from "../config.ts";
import type { Engine } from "../engine/engine.ts";
import { invalidRequest } from "../errors.ts";
import {
  DetokenizeParams,
  TokenizeParams,
  type DetokenizeResponse,
  type TokenizeResponse,
} from "../openai/tokenize.ts";
import { toChatMessages, toTemplateChoice } from "./chat-messages.ts";
import { checkMessagesLength, checkPromptLength } from "./limits.ts";

/** Token counting for clients that budget prompts: `/tokenize` and `/detokenize` as vLLM's server offers them. */
export const tokenizeRoutes = (engine: Engine, limits: Limits) =>
  new Elysia({ name: "tokenize" })
    .post(
      "/tokenize",
      async ({ body }): Promise<TokenizeResponse> => {
        if ((body.prompt === undefined) === (body.messages === undefined)) {
          throw invalidRequest("Give exactly one of 'prompt' or 'messages'.", body.messages ? "messages" : "prompt");
        }
        if (body.messages) checkMessagesLength(body.messages, limits);
        else checkPromptLength(body.prompt?.length ?? 0, "prompt", limits);
        const template = toTemplateChoice(body, limits);
        if (template && !body.messages) throw invalidRequest("A chat template applies to 'messages' only.", body.chat_template != null ? "chat_template" : "chat_template_kwargs");
        const result = body.messages
          ? await engine.tokenize({ model: body.model, messages: toChatMessages(body.messages), ...(template === undefined ? {} : { template }) })
          : await engine.tokenize({
              model: body.model,
              prompt: body.prompt ?? "",
              addSpecialTokens: body.add_special_tokens ?? true,
            });
        return { count: result.tokens.length, max_model_len: result.contextLength, tokens: result.tokens };
      },
      { body: TokenizeParams },
    )
    .post(
      "/detokenize",
      async ({ body }): Promise<DetokenizeResponse> => ({ prompt: await engine.detokenize(body.model, body.tokens) }),
      { body: DetokenizeParams },
    );

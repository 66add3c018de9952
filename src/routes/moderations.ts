import { Elysia } from "elysia";
import type { Limits } from "../config.ts";
import type { Engine } from "../engine/engine.ts";
import type { ModerationVerdict } from "../engine/moderation.ts";
import { inRoute, invalidRequest } from "../errors.ts";
import {
  MODERATION_CATEGORY_NAMES,
  ModerationCreateParams,
  type Moderation,
  type ModerationCreateResponse,
} from "../openai/moderations.ts";
import { checkModerationLimits } from "./limits.ts";
import { listParamOf } from "./param-names.ts";

/**
 * OpenAI's moderations endpoint over a text classifier (a registry model of kind `moderation`): its labels are mapped
 * onto OpenAI's categories and thresholds by the registry entry. Without `model`, the first moderation model serves.
 */
export const moderationsRoutes = (engine: Engine, limits: Limits) =>
  new Elysia({ name: "moderations" }).post(
    "/v1/moderations",
    async ({ body, request, server }): Promise<ModerationCreateResponse> => {
      const texts = toTexts(body.input);
      const sentList = Array.isArray(body.input) && typeof body.input[0] === "string";
      checkModerationLimits(texts, sentList, limits);
      server?.timeout(request, 0);
      const model = body.model ?? defaultModerationModel(engine);
      const result = await inRoute(engine.moderate({ model, texts }), {
        route: "/v1/moderations",
        paramOf: listParamOf("texts", "input", sentList),
      });
      return { id: `modr-${crypto.randomUUID().replaceAll("-", "")}`, model: result.modelId, results: result.verdicts.map(toModeration) };
    },
    { body: ModerationCreateParams },
  );

/**
 * One text per string; an array of multi-modal items is one input (OpenAI answers one result for it), its text
 * items joined by newlines. Images cannot be read by a text classifier and are refused by name.
 */
function toTexts(input: ModerationCreateParams["input"]): string[] {
  if (typeof input === "string") return [input];
  if (input.every((item) => typeof item === "string")) return input as string[];
  const parts = (input as Exclude<ModerationCreateParams["input"], string | string[]>).map((item, i) => {
    if (item.type !== "text") {
      throw invalidRequest(
        `Input type '${item.type}' is not supported by this server's moderation models; only 'text' items are.`,
        `input[${i}]`,
        "unsupported_content_type",
      );
    }
    if (typeof item.text !== "string") throw invalidRequest(`Missing required parameter: 'input[${i}].text'.`, `input[${i}].text`, "missing_required_parameter");
    return item.text;
  });
  return [parts.join("\n")];
}

function defaultModerationModel(engine: Engine): string {
  const first = engine.listModels().find((spec) => spec.kind === "moderation");
  if (!first) throw invalidRequest("This server serves no moderation model; name one in 'model' (GET /v1/models lists the models).", "model", "model_not_found");
  return first.id;
}

/** Every OpenAI category is present: those the model does not cover score 0, are never flagged and apply to no input. */
function toModeration(verdict: ModerationVerdict): Moderation {
  const categories = {} as Moderation["categories"];
  const scores = {} as Moderation["category_scores"];
  const applied = {} as Moderation["category_applied_input_types"];
  for (const name of MODERATION_CATEGORY_NAMES) {
    const score = verdict.scores[name];
    categories[name] = verdict.flags[name] ?? false;
    scores[name] = score ?? 0;
    applied[name] = score === undefined ? [] : ["text"];
  }
  return { flagged: verdict.flagged, categories, category_scores: scores, category_applied_input_types: applied };
}

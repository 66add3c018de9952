import { t } from "elysia";

export const Model = t.Object({
  id: t.String(),
  object: t.Literal("model"),
  created: t.Integer(),
  owned_by: t.String(),
  /** gpt3dev's extension: the ONNX weight variant served (transformers.js's dtype names: fp32, q8, fp16, q4f16, …). */
  dtype: t.Optional(t.String()),
});
export type Model = typeof Model.static;

export const ModelsPage = t.Object({
  object: t.Literal("list"),
  data: t.Array(Model),
});
export type ModelsPage = typeof ModelsPage.static;

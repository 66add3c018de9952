import { t } from "elysia";

export const Model = t.Object({
  id: t.String(),
  object: t.Literal("model"),
  created: t.Integer(),
  owned_by: t.String(),
});
export type Model = typeof Model.static;

export const ModelsPage = t.Object({
  object: t.Literal("list"),
  data: t.Array(Model),
});
export type ModelsPage = typeof ModelsPage.static;

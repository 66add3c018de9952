import { Elysia, t } from "elysia";
import type { Engine } from "../engine/engine.ts";
import type { ModelSpec } from "../engine/registry.ts";
import type { Model, ModelsPage } from "../openai/models.ts";

function toModel(spec: ModelSpec): Model {
  return { id: spec.id, object: "model", created: spec.created, owned_by: spec.ownedBy, dtype: spec.dtype };
}

export const modelsRoutes = (engine: Engine) =>
  new Elysia({ name: "models" })
    .get("/v1/models", (): ModelsPage => ({ object: "list", data: engine.listModels().map(toModel) }))
    .get("/v1/models/:id", ({ params }): Model => toModel(engine.getModel(params.id)), {
      params: t.Object({ id: t.String() }),
    });

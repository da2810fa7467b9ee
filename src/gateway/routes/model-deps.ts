import type { Context } from "hono";
import type { RouteDeps } from "../gateway-deps.js";
import { livepeerSessionOf } from "../http/access.js";
import { errors, GatewayError } from "../http/gateway-error.js";
import { isLlmPath } from "../http/wire-status.js";

/**
 * The deps of the model an OpenAI body names (absent: the default model, or the Live Runner session's). Not served
 * here: 404 in vLLM's words (vllm/entrypoints/openai/serving_engine.py `_check_model`: "The model `x` does not
 * exist.", NotFoundError), with the served ids added. With one model the engine itself answers an unknown name, as
 * it always has.
 */
export function modelDeps(deps: RouteDeps, model: unknown, c?: Context): RouteDeps {
  const wanted = c ? sessionModel(c, model) : model;
  const found = deps.served.lookup(wanted);
  if (found !== null) return found;
  const name = typeof wanted === "string" ? wanted : JSON.stringify(wanted);
  throw new GatewayError(
    404,
    "model_not_found",
    `The model \`${name}\` does not exist. This runner serves: ${deps.served.ids.join(", ")}.`,
    { param: "model" },
  );
}

/**
 * The model a request may call. Several models, each its own Live Runner registration: a session the orchestrator
 * reserved on one model's registration is priced as that model's offer, so its requests call that model only: a
 * body without `model` gets it, a body naming another is refused (403 on /v1, as for a refused session; 401 on /llm,
 * whose only authorization status it is). Otherwise the body's own `model`.
 */
export function sessionModel(c: Context, model: unknown): unknown {
  const reserved = livepeerSessionOf(c)?.model;
  if (reserved === undefined) return model;
  if (model === undefined || model === null || model === "") return reserved;
  if (model === reserved) return model;
  const named = typeof model === "string" ? `'${model}'` : JSON.stringify(model);
  const message = `This Livepeer session was reserved on the registration of the model '${reserved}', so its requests call '${reserved}' only; the request names ${named}. Send "model": "${reserved}" (or leave "model" out), or reserve a session on the registration of ${named}.`;
  throw isLlmPath(c.req.path) ? errors.unauthorized(message) : errors.forbidden(message);
}

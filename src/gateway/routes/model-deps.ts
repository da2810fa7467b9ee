import type { RouteDeps } from "../gateway-deps.js";
import { GatewayError } from "../http/gateway-error.js";

/**
 * The deps of the model an OpenAI body names (absent: the default model). Not served here: 404 in vLLM's words
 * (vllm/entrypoints/openai/serving_engine.py `_check_model`: "The model `x` does not exist.", NotFoundError), with
 * the served ids added. With one model the engine itself answers an unknown name, as it always has.
 */
export function modelDeps(deps: RouteDeps, model: unknown): RouteDeps {
  const found = deps.served.lookup(model);
  if (found !== null) return found;
  const name = typeof model === "string" ? model : JSON.stringify(model);
  throw new GatewayError(
    404,
    "model_not_found",
    `The model \`${name}\` does not exist. This runner serves: ${deps.served.ids.join(", ")}.`,
    { param: "model" },
  );
}

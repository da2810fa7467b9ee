// What a request tells the replica router (supervisor/routing/): its affinity key and its prompt's block chain.
import type { Context } from "hono";
import type { RouterPolicy } from "../../config/router-policy.js";
import type { RouteHint } from "../../supervisor/routing/route-decision.js";
import type { LivepeerSession } from "../http/access.js";

/** The client's sticky-session header (as vLLM production-stack's session router reads one; not OpenAI's `user`). */
export const AFFINITY_HEADER = "x-session-affinity";
// Longer values are cut: the key only has to tell sessions apart, and the router keeps 10,000 of them.
const MAX_KEY_CHARS = 256;

/**
 * The hint for one request: a persistent Live Runner session's id, else the X-Session-Affinity header, as the
 * affinity key (each in its own namespace); and the prompt's blocks when the prefix router uses them.
 */
export function routeHint(c: Context, session: LivepeerSession | undefined, blocks?: Int32Array): RouteHint {
  const hint: RouteHint = {};
  const header = c.req.header(AFFINITY_HEADER)?.trim();
  if (session?.sticky) hint.affinity = `session:${session.id}`;
  else if (header) hint.affinity = `header:${header.slice(0, MAX_KEY_CHARS)}`;
  if (blocks !== undefined && blocks.length > 0) hint.blocks = blocks;
  return hint;
}

/** Whether to hash prompts: the prefix policy, and more than one engine to choose from. */
export function hashesPrompts(policy: RouterPolicy, readyEngines: number): boolean {
  return policy === "prefix" && readyEngines > 1;
}

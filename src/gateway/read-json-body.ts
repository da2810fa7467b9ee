import type { Context } from "hono";
import { errors } from "./gateway-error.js";

/** The request body parsed as JSON, or a 400 saying it is not valid JSON. */
export async function readJsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") throw errors.invalidJson("the body is empty");
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw errors.invalidJson(err instanceof Error ? err.message : String(err));
  }
}

import { errors } from "../http/gateway-error.js";
import { isRecord, type JsonObject } from "../wire/json-values.js";

// The field rules the OpenAI request parsers share (chat, completions, responses): each throws the 400 that names
// the field, the rule and the value seen. A field that is absent or null is left to the engine's default.

export type Body = JsonObject;

const given = (v: unknown) => v !== undefined && v !== null;

/** The body as an object, or a 400 naming the API it should be a request of. */
export function requestObject(body: unknown, api: string): Body {
  if (!isRecord(body)) throw errors.invalidBody(`The request body must be a JSON object (${api}).`, null);
  return body;
}

/** A finite number in [min, max] (OpenAI's ranges; vLLM itself accepts e.g. any temperature ≥ 0). */
export function numberIn(body: Body, key: string, min: number, max: number): void {
  const v = body[key];
  if (!given(v)) return;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw errors.invalidBody(
      `${key} must be a number from ${min} to ${max} (got ${JSON.stringify(v)}).`,
      key,
    );
  }
}

export function integerIn(body: Body, key: string, min: number, max: number): void {
  const v = body[key];
  if (!given(v)) return;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw errors.invalidBody(
      `${key} must be an integer from ${min} to ${max} (got ${JSON.stringify(v)}).`,
      key,
    );
  }
}

/** A token limit: an integer ≥ 1, or null when not given. */
export function positiveInt(body: Body, key: string): number | null {
  const v = body[key];
  if (!given(v)) return null;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw errors.invalidBody(`${key} must be an integer of at least 1 (got ${JSON.stringify(v)}).`, key);
  }
  return v;
}

/** `stream`: true or false when given; whether the client asked for a stream. */
export function streamFlag(body: Body): boolean {
  if (given(body.stream) && typeof body.stream !== "boolean") {
    throw errors.invalidBody(`stream must be true or false (got ${JSON.stringify(body.stream)}).`, "stream");
  }
  return body.stream === true;
}

/** `stream_options` must be an object when given; whether it asks for the usage chunk. */
export function includeUsage(body: Body): boolean {
  const options = body.stream_options;
  if (given(options) && !isRecord(options)) {
    throw errors.invalidBody("stream_options must be an object.", "stream_options");
  }
  return isRecord(options) && options.include_usage === true;
}

/** Each request is priced by max_tokens for one completion; n (or best_of) > 1 would generate that many times. */
export function onlyOne(body: Body, key: string, instead: string): void {
  const v = body[key];
  if (given(v) && v !== 1) {
    throw errors.invalidBody(`${key} must be 1 on this runner (got ${JSON.stringify(v)}); ${instead}.`, key);
  }
}

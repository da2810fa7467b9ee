import { errors } from "../http/gateway-error.js";

/** What pricing and admission need from a POST /v1/responses body; the rest goes to the engine untouched. */
export interface ResponsesRequestFacts {
  body: Record<string, unknown>;
  stream: boolean;
  /** max_output_tokens, or null (the engine's limit applies). */
  maxOutputTokens: number | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function numberIn(body: Record<string, unknown>, key: string, min: number, max: number): void {
  const v = body[key];
  if (v === undefined || v === null) return;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw errors.invalidBody(
      `${key} must be a number from ${min} to ${max} (got ${JSON.stringify(v)}).`,
      key,
    );
  }
}

/**
 * The OpenAI Responses API request (`client.responses.create`, the AI SDK's `openai.responses(...)`): `input`
 * is a string or a list of input items. Background mode is refused: a request is priced, relayed and settled
 * while its client waits; a client that wants to see progress asks for `stream: true`.
 */
export function parseResponsesRequest(body: unknown): ResponsesRequestFacts {
  if (!isRecord(body)) {
    throw errors.invalidBody(
      "The request body must be a JSON object (an OpenAI Responses API request).",
      null,
    );
  }
  const input = body.input;
  if (!(typeof input === "string" || (Array.isArray(input) && input.length > 0))) {
    throw errors.invalidBody(
      `input is required: a string, or a non-empty list of input items (got ${input === undefined ? "nothing" : JSON.stringify(input).slice(0, 80)}).`,
      "input",
    );
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") {
    throw errors.invalidBody(`stream must be true or false (got ${JSON.stringify(body.stream)}).`, "stream");
  }
  if (body.background === true) {
    throw errors.invalidBody(
      "background mode is not served by this runner: send the request without background (use stream: true to see the answer as it is generated).",
      "background",
    );
  }
  numberIn(body, "temperature", 0, 2);
  numberIn(body, "top_p", 0, 1);
  const max = body.max_output_tokens;
  if (max !== undefined && max !== null && (typeof max !== "number" || !Number.isInteger(max) || max < 1)) {
    throw errors.invalidBody(
      `max_output_tokens must be an integer of at least 1 (got ${JSON.stringify(max)}).`,
      "max_output_tokens",
    );
  }
  return { body, stream: body.stream === true, maxOutputTokens: typeof max === "number" ? max : null };
}

import { errors } from "../http/gateway-error.js";
import { numberIn, positiveInt, requestObject, streamFlag } from "./field-rules.js";

/** What pricing and admission need from a POST /v1/responses body; the rest goes to the engine untouched. */
export interface ResponsesRequestFacts {
  body: Record<string, unknown>;
  stream: boolean;
  /** max_output_tokens, or null (the engine's limit applies). */
  maxOutputTokens: number | null;
}

/**
 * The OpenAI Responses API request (`client.responses.create`, the AI SDK's `openai.responses(...)`): `input`
 * is a string or a list of input items. Background mode is refused: a request is priced, relayed and settled
 * while its client waits; a client that wants to see progress asks for `stream: true`.
 */
export function parseResponsesRequest(raw: unknown): ResponsesRequestFacts {
  const body = requestObject(raw, "an OpenAI Responses API request");
  const input = body.input;
  if (!(typeof input === "string" || (Array.isArray(input) && input.length > 0))) {
    throw errors.invalidBody(
      `input is required: a string, or a non-empty list of input items (got ${input === undefined ? "nothing" : JSON.stringify(input).slice(0, 80)}).`,
      "input",
    );
  }
  const stream = streamFlag(body);
  if (body.background === true) {
    throw errors.invalidBody(
      "background mode is not served by this runner: send the request without background (use stream: true to see the answer as it is generated).",
      "background",
    );
  }
  numberIn(body, "temperature", 0, 2);
  numberIn(body, "top_p", 0, 1);
  return { body, stream, maxOutputTokens: positiveInt(body, "max_output_tokens") };
}

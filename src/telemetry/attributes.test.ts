import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
} from "@opentelemetry/semantic-conventions";
import {
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_REQUEST_TOP_K,
  ATTR_GEN_AI_REQUEST_TOP_P,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
} from "@opentelemetry/semantic-conventions/incubating";
import { describe, expect, it } from "vitest";
import { GEN_AI, HTTP, RUNNER } from "./attributes.js";

describe("span attribute names", () => {
  it("are the OpenTelemetry semantic conventions' GenAI names (@opentelemetry/semantic-conventions/incubating)", () => {
    expect(GEN_AI).toEqual({
      operation: ATTR_GEN_AI_OPERATION_NAME,
      provider: ATTR_GEN_AI_PROVIDER_NAME,
      requestModel: ATTR_GEN_AI_REQUEST_MODEL,
      maxTokens: ATTR_GEN_AI_REQUEST_MAX_TOKENS,
      stream: ATTR_GEN_AI_REQUEST_STREAM,
      temperature: ATTR_GEN_AI_REQUEST_TEMPERATURE,
      topP: ATTR_GEN_AI_REQUEST_TOP_P,
      topK: ATTR_GEN_AI_REQUEST_TOP_K,
      responseId: ATTR_GEN_AI_RESPONSE_ID,
      finishReasons: ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
      timeToFirstChunk: ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
      inputTokens: ATTR_GEN_AI_USAGE_INPUT_TOKENS,
      outputTokens: ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
      conversationId: ATTR_GEN_AI_CONVERSATION_ID,
    });
  });

  it("are the stable HTTP and error names", () => {
    expect(HTTP).toEqual({
      method: ATTR_HTTP_REQUEST_METHOD,
      route: ATTR_HTTP_ROUTE,
      status: ATTR_HTTP_RESPONSE_STATUS_CODE,
      urlPath: ATTR_URL_PATH,
      serverAddress: ATTR_SERVER_ADDRESS,
      serverPort: ATTR_SERVER_PORT,
      errorType: ATTR_ERROR_TYPE,
    });
  });

  it("of our own stay in the llm_runner namespace", () => {
    for (const name of Object.values(RUNNER)) expect(name).toMatch(/^llm_runner\.[a-z_.]+$/);
  });
});

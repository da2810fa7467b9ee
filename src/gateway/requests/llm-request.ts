import { z } from "zod";
import { errors, type FieldIssue, GatewayError } from "../http/gateway-error.js";

// The AI-runner's LLMRequest (contract v0.14.1) with DESIGN §3's ranges; unknown fields are ignored, as
// FastAPI/pydantic does.
const llmMessage = z.object({
  role: z.enum(["system", "user", "assistant"], {
    error: (i) => `role must be one of system, user, assistant (got ${JSON.stringify(i.input)})`,
  }),
  content: z.string({ error: "content must be a string" }),
});

export const llmRequestSchema = z.object({
  messages: z
    .array(llmMessage, { error: "messages must be a list of {role, content} objects" })
    .min(1, { error: "messages must hold at least one message" }),
  model: z.string({ error: "model must be a string" }).default(""),
  temperature: z
    .number({ error: "temperature must be a number from 0 to 2" })
    .min(0, { error: "temperature must be at least 0" })
    .max(2, { error: "temperature must be at most 2" })
    .default(0.7),
  max_tokens: z
    .number({ error: "max_tokens must be an integer of at least 1" })
    .int({ error: "max_tokens must be an integer of at least 1" })
    .min(1, { error: "max_tokens must be at least 1" })
    .default(256),
  top_p: z
    .number({ error: "top_p must be a number from 0 to 1" })
    .min(0, { error: "top_p must be at least 0" })
    .max(1, { error: "top_p must be at most 1" })
    .default(1.0),
  top_k: z
    .number({ error: "top_k must be an integer: -1 (off) or at least 1" })
    .int({ error: "top_k must be an integer: -1 (off) or at least 1" })
    .refine((v) => v === -1 || v >= 1, { error: "top_k must be -1 (off) or at least 1" })
    .default(-1),
  stream: z.boolean({ error: "stream must be true or false" }).default(false),
});

export type LlmRequest = z.infer<typeof llmRequestSchema>;

const ROLES: ReadonlySet<unknown> = new Set(["system", "user", "assistant"]);
const num = (v: unknown, min: number, max: number) => typeof v === "number" && v >= min && v <= max;
const int = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v);

/**
 * The common case without zod: a body whose every field is already valid gives the same LlmRequest the schema
 * would (a property test holds them equal); anything else returns null and goes through the schema, which
 * words every error. Measured: zod's parse was ~2 % of the gateway's CPU on /llm streams.
 */
export function fastLlmRequest(body: Record<string, unknown>): LlmRequest | null {
  const { messages, model, temperature, max_tokens, top_p, top_k, stream } = body;
  if (!Array.isArray(messages) || messages.length === 0) return null;
  const out: LlmRequest["messages"] = [];
  for (const m of messages) {
    if (typeof m !== "object" || m === null || Array.isArray(m)) return null;
    const { role, content } = m as Record<string, unknown>;
    if (!ROLES.has(role) || typeof content !== "string") return null;
    out.push({ role: role as LlmRequest["messages"][number]["role"], content });
  }
  if (model !== undefined && typeof model !== "string") return null;
  if (temperature !== undefined && !num(temperature, 0, 2)) return null;
  if (max_tokens !== undefined && !(int(max_tokens) && (max_tokens as number) >= 1)) return null;
  if (top_p !== undefined && !num(top_p, 0, 1)) return null;
  if (top_k !== undefined && !(int(top_k) && (top_k === -1 || (top_k as number) >= 1))) return null;
  if (stream !== undefined && typeof stream !== "boolean") return null;
  return {
    messages: out,
    model: model ?? "",
    temperature: (temperature as number | undefined) ?? 0.7,
    max_tokens: (max_tokens as number | undefined) ?? 256,
    top_p: (top_p as number | undefined) ?? 1.0,
    top_k: (top_k as number | undefined) ?? -1,
    stream: stream ?? false,
  };
}

function issueType(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type" && issue.input === undefined) return "missing";
  return issue.code;
}

/**
 * Validates a parsed /llm body: 400 naming every bad field in its message (go-livepeer reads only detail.msg, and
 * takes a 422 for a paid empty success), 400 for a model we don't serve.
 */
export function parseLlmRequest(body: unknown, servedModels: string | readonly string[]): LlmRequest {
  const served = typeof servedModels === "string" ? [servedModels] : servedModels;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new GatewayError(
      400,
      "invalid_request",
      "The request body must be a JSON object with a messages list.",
      {
        issues: [
          {
            loc: ["body"],
            msg: "The request body must be a JSON object with a messages list.",
            type: "invalid_type",
          },
        ],
      },
    );
  }
  const fast = fastLlmRequest(body as Record<string, unknown>);
  if (fast !== null) return checkModel(fast, served);
  // reportInput: without it zod v4 leaves issue.input unset, and every wrong type would read as "missing".
  const result = llmRequestSchema.safeParse(body, { reportInput: true });
  if (!result.success) {
    const issues: FieldIssue[] = result.error.issues.map((i) => ({
      loc: ["body", ...i.path.map((p) => (typeof p === "number" ? p : String(p)))],
      msg: i.code === "invalid_type" && i.input === undefined ? `${i.path.join(".")} is required` : i.message,
      type: issueType(i),
    }));
    const summary = issues.map((i) => `${i.loc.slice(1).join(".")}: ${i.msg}`).join("; ");
    throw new GatewayError(400, "invalid_request", `Invalid /llm request: ${summary}`, { issues });
  }
  return checkModel(result.data, served);
}

function checkModel(request: LlmRequest, served: readonly string[]): LlmRequest {
  if (request.model === "" || served.includes(request.model)) return request;
  const first = served[0] ?? "";
  throw errors.invalidBody(
    served.length === 1
      ? `Model '${request.model}' is not served here; this runner serves '${first}'. Send "model": "${first}" or leave it empty.`
      : `Model '${request.model}' is not served here; this runner serves ${served.map((m) => `'${m}'`).join(", ")}. Send one of them as "model", or leave it empty for '${first}'.`,
    "model",
  );
}

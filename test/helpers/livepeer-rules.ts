// How a Livepeer orchestrator reads an /llm answer from an external runner, restated from go-livepeer
// (github.com/livepeer/go-livepeer @176aa415; our own code, written from these rules):
//
// Non-streaming (ai/worker/runner.gen.go ParseGenLLMResponse 2333-2383, ai/worker/worker.go
// handleNonStreamingResponse 738-767): the body is decoded only when Content-Type contains "json" and the status
// is 200, 400, 401, 422 or 500 (a body that does not decode is an error). 400, 401 and 500 become errors carrying
// detail.msg; 200 is the answer; anything else (422, 413, 429, 502, 503, or a non-JSON 400/500) returns
// (nil, nil): the orchestrator debits max_tokens (server/ai_http.go 1661) and answers 200 `null` (1728-1733),
// and the gateway counts it a success (server/ai_process.go 1542-1545).
//
// Streaming (worker.go handleStreamingResponse 769-810, ai_http.go 1712-1723): any status but 200 is an error.
// Lines are read with bufio.Scanner (64 KiB per line, newline included; a longer line ends the read), "data: "
// is trimmed, empty lines skipped, a line that is not JSON skipped, "[DONE]" does not stop the loop (its
// `break` leaves only the select). The orchestrator indexes choices[0] of every chunk (an empty list panics the
// handler) and stops at the first non-empty finish_reason.

export type GoNonStreaming =
  | { kind: "answer"; body: LlmAnswer }
  | { kind: "error"; status: number; msg: string }
  | { kind: "paid-empty"; status: number };

export interface LlmAnswer {
  id: string;
  model: string;
  created: number;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  choices: Array<{ index: number; finish_reason: string; message: { role: string; content: string } }>;
}

export interface GoStream {
  kind: "stream";
  status: 200;
  chunks: Array<{
    choices: Array<{ delta?: { content?: string }; finish_reason?: string | null }>;
    usage?: unknown;
  }>;
  /** The finish_reason the orchestrator stopped at; null when the read ended without one. */
  finishReason: string | null;
  text: string;
  /** Why the read ended early: a line over the scanner's limit, or a chunk without choices[0]. */
  broken: "line-too-long" | "no-choices" | null;
}

export type GoStreaming = GoStream | { kind: "error"; status: number };

/** Go's bufio.MaxScanTokenSize: a line and its newline must fit in it. */
export const GO_SCANNER_MAX = 64 * 1024;

const DECODED = new Set([200, 400, 401, 422, 500]);

export function readNonStreaming(status: number, contentType: string | null, body: string): GoNonStreaming {
  const isJson = (contentType ?? "").includes("json");
  if (!isJson || !DECODED.has(status)) return { kind: "paid-empty", status };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: "error", status, msg: `undecodable body: ${body.slice(0, 100)}` };
  }
  if (status === 200) return { kind: "answer", body: parsed as LlmAnswer };
  if (status === 422) return { kind: "paid-empty", status };
  const detail = (parsed as { detail?: unknown }).detail;
  // Go decodes into HTTPError{Detail APIError{Msg string}}: a list (FastAPI's 422 shape) would not decode.
  if (typeof detail !== "object" || detail === null || Array.isArray(detail)) {
    return { kind: "error", status, msg: `undecodable HTTPError: ${body.slice(0, 100)}` };
  }
  const msg = (detail as { msg?: unknown }).msg;
  return { kind: "error", status, msg: typeof msg === "string" ? msg : "" };
}

export function readStreaming(status: number, body: string): GoStreaming {
  if (status !== 200) return { kind: "error", status };
  const out: GoStream = {
    kind: "stream",
    status: 200,
    chunks: [],
    finishReason: null,
    text: "",
    broken: null,
  };
  for (const raw of body.split("\n")) {
    if (Buffer.byteLength(raw) + 1 > GO_SCANNER_MAX) {
      out.broken = "line-too-long";
      break;
    }
    const data = (raw.endsWith("\r") ? raw.slice(0, -1) : raw).replace(/^data: /, "");
    if (data === "" || data === "[DONE]") continue;
    let chunk: GoStream["chunks"][number];
    try {
      chunk = JSON.parse(data);
    } catch {
      continue;
    }
    out.chunks.push(chunk);
    const first = chunk.choices?.[0];
    if (!first) {
      out.broken = "no-choices";
      break;
    }
    out.text += first.delta?.content ?? "";
    if (first.finish_reason) {
      out.finishReason = first.finish_reason;
      break;
    }
  }
  return out;
}

/** A stream that ended, by these rules, as a failure the user sees (not a complete answer). */
export function streamFailed(s: GoStreaming): boolean {
  return s.kind === "error" || s.broken !== null || s.finishReason === null || s.finishReason === "error";
}

/** Masterminds/semver as core/capabilities.go uses it: prerelease ignored, then compared. */
export function semverAtLeast(version: string, min: string): boolean {
  const parse = (v: string) => {
    const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(v);
    if (!m) return null;
    return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
  };
  const a = parse(version);
  const b = parse(min);
  if (a === null) return false; // the gateway rejects a version it cannot parse
  if (b === null) return true;
  for (let i = 0; i < 3; i++) {
    if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) > (b[i] as number);
  }
  return true;
}

// Every way a pull can fail, with the operator's fix. The CLI prints `message` and `fix` and exits 1.

export type PullErrorKind =
  | "gated" // 401/403 on a gated repo: licence not accepted, or no/bad HF_TOKEN
  | "not_found" // repo, revision or file missing (or private without a token)
  | "bad_token" // HF_TOKEN rejected or malformed
  | "disk_full" // not enough free space, up front or mid-file (ENOSPC)
  | "network" // connection failures after every retry
  | "unavailable" // the hub or its CDN kept answering 429 or 5xx through every retry
  | "corrupt" // size or hash of a downloaded file does not match the hub's
  | "hub_error" // an unexpected status or response from the hub
  | "busy"; // another pull holds this model's lock

export class PullError extends Error {
  override readonly name = "PullError";
  constructor(
    readonly kind: PullErrorKind,
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/** The hub page of a repo, where its licence is accepted. */
export function repoPage(endpoint: string, repo: string): string {
  return `${endpoint}/${repo}`;
}

export function gatedError(endpoint: string, repo: string, hasToken: boolean, status: number): PullError {
  const why = hasToken
    ? `the hub refused HF_TOKEN for the gated model ${repo} (HTTP ${status}): the token's account has not been granted access`
    : `${repo} is a gated model and HF_TOKEN is not set (HTTP ${status})`;
  return new PullError(
    "gated",
    why,
    `accept the licence at ${repoPage(endpoint, repo)} and set HF_TOKEN (a read token from ${endpoint}/settings/tokens), then run the command again`,
  );
}

/**
 * Maps a hub error status to a PullError. `errorCode` is the hub's X-Error-Code header when known
 * (GatedRepo, RepoNotFound, RevisionNotFound, EntryNotFound), as huggingface_hub's hf_raise_for_status reads it.
 */
export function statusError(input: {
  status: number;
  errorCode: string | null;
  endpoint: string;
  repo: string;
  what: string; // "the model info", "config.json", ...
  hasToken: boolean;
  detail?: string;
}): PullError {
  const { status, errorCode, endpoint, repo, what, hasToken } = input;
  const detail = input.detail ? `: ${input.detail}` : "";
  if (errorCode === "GatedRepo") return gatedError(endpoint, repo, hasToken, status);
  if (errorCode === "RepoNotFound" || (status === 404 && errorCode === null && what === "the model info")) {
    return new PullError(
      "not_found",
      `the hub at ${endpoint} has no model ${repo} (HTTP ${status})`,
      hasToken
        ? `check MODEL_ID (it is case-sensitive, e.g. "meta-llama/Meta-Llama-3.1-8B-Instruct"), and that HF_TOKEN's account can see it if it is private`
        : `check MODEL_ID (it is case-sensitive, e.g. "meta-llama/Meta-Llama-3.1-8B-Instruct"); if the model is private or gated, set HF_TOKEN`,
    );
  }
  if (errorCode === "RevisionNotFound" || errorCode === "EntryNotFound" || status === 404) {
    return new PullError(
      "not_found",
      `the hub has no ${what} for ${repo} (HTTP ${status}${errorCode ? ` ${errorCode}` : ""})${detail}`,
      "the repo changed while pulling, or HF_ENDPOINT points at a mirror that lacks it: run the command again, or check HF_ENDPOINT",
    );
  }
  if (status === 401 || status === 403) {
    // Without an error code the hub still answers 401/403 for gated or private repos.
    return hasToken
      ? new PullError(
          "bad_token",
          `the hub refused HF_TOKEN for ${repo} (HTTP ${status})${detail}`,
          `check that HF_TOKEN is a valid read token (${endpoint}/settings/tokens); if ${repo} is gated, accept the licence at ${repoPage(endpoint, repo)}`,
        )
      : gatedError(endpoint, repo, false, status);
  }
  if (status === 429) {
    return new PullError(
      "hub_error",
      `the hub rate-limited the download of ${what} for ${repo} (HTTP 429)`,
      "wait a minute and run the command again (it resumes); setting HF_TOKEN raises the hub's limits",
    );
  }
  return new PullError(
    "hub_error",
    `the hub answered HTTP ${status} for ${what} of ${repo}${detail}`,
    status >= 500
      ? "the hub is having trouble: run the command again later (it resumes where it stopped)"
      : "check HF_ENDPOINT and your network proxy, then run the command again",
  );
}

/**
 * A status from the CDN the hub redirected a file to: its meaning is plain HTTP (no X-Error-Code), and an
 * expired or refused link is fixed by asking the hub again.
 */
export function cdnStatusError(input: {
  status: number;
  host: string;
  repo: string;
  what: string;
}): PullError {
  return new PullError(
    "hub_error",
    `the CDN (${input.host}) answered HTTP ${input.status} for ${input.what} of ${input.repo}`,
    input.status >= 500
      ? "the CDN is having trouble: run the command again later (it resumes where it stopped)"
      : "run the command again (the hub hands out a fresh download link); if it persists, check HF_ENDPOINT and any proxy in between",
  );
}

/** An error's message with its cause and code (undici puts the socket error in `cause`). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = (err as { code?: string }).code ?? (cause as { code?: string } | undefined)?.code;
  const causeMsg = cause instanceof Error ? cause.message : "";
  const text = [err.message, causeMsg && causeMsg !== err.message ? causeMsg : ""].filter(Boolean).join(": ");
  return code && !text.includes(code) ? `${text} (${code})` : text;
}

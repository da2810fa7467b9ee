// A failure a pull retries (a temporary status or a dropped connection), who caused it — the hub at
// HF_ENDPOINT or the CDN it redirects files to — and the error once the retries are spent. Server bodies are
// never quoted: a CDN's 503 page is HTML, and the status says what happened.
import { PullError } from "./pull-error.js";
import type { RetryStep } from "./retry-policy.js";

export interface Server {
  role: "hub" | "CDN";
  host: string;
}

/** What the progress shows before a retry: what failed, where, and how long the pull waits. */
export interface RetryNotice {
  server: Server;
  what: string;
  problem: string;
  attempt: number; // the retry about to be made, 1-based
  maxRetries: number;
  waitMs: number;
  asked: boolean; // the server asked for this wait (Retry-After, RateLimit)
}

export class TemporaryFailure extends Error {
  override readonly name = "TemporaryFailure";
  constructor(
    readonly server: Server,
    /** "HTTP 503", or the connection error. */
    readonly problem: string,
    readonly status: number | null,
    /** The wait the server asked for (Retry-After, RateLimit), in ms. */
    readonly askedMs: number | null,
  ) {
    super(`${serverText(server)}: ${problem}`);
  }
}

/** The hub when `url` is on HF_ENDPOINT's origin, else the CDN it redirected to. */
export function serverOf(url: URL, endpoint: string): Server {
  return { role: url.origin === new URL(endpoint).origin ? "hub" : "CDN", host: url.host };
}

export function serverText(s: Server): string {
  return `the ${s.role} (${s.host})`;
}

/** The error once `step` says stop: `what` is "config.json of ORG/NAME", `kept` what stays on disk. */
export function gaveUpError(
  failure: TemporaryFailure,
  step: Exclude<RetryStep, { retry: true }>,
  tries: number,
  what: string,
  kept = "",
): PullError {
  const who = serverText(failure.server);
  const keptText = kept ? `; ${kept}` : "";
  if (step.why === "wait") {
    return new PullError(
      "unavailable",
      `${who} answered ${failure.problem} for ${what} and asks to wait ${Math.ceil(step.askedMs / 1000)} s, longer than a pull waits${keptText}`,
      "run the command again after that wait: it resumes where it stopped",
    );
  }
  const times = `${tries} times in a row`;
  if (failure.status === null) {
    return new PullError(
      "network",
      `the connection to ${who} failed ${times} while fetching ${what}: ${failure.problem}${keptText}`,
      "check the network (and HTTPS_PROXY if you use one), then run the command again: it resumes where it stopped",
    );
  }
  if (failure.status === 429) {
    return new PullError(
      "unavailable",
      `${who} rate-limited the download of ${what} (HTTP 429) ${times}${keptText}`,
      "wait a few minutes and run the command again (it resumes); setting HF_TOKEN raises the hub's limits",
    );
  }
  return new PullError(
    "unavailable",
    `${who} answered ${failure.problem} for ${what} ${times}${keptText}`,
    `the ${failure.server.role} is having trouble: run the command again later (it resumes where it stopped)`,
  );
}

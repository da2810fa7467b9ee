// When a pull retries and how long it waits, after huggingface_hub (utils/_http.py, _http_backoff_base and
// _parse_retry_after): the statuses 408, 429, 500, 502, 503 and 504 and dropped connections are temporary;
// up to 5 retries (6 tries) in a row without progress; waits of 1, 2, 4, 8, 8 s, or what the server asks plus
// 1 s ("to avoid rounding issues"): on a 429 the RateLimit header's t= when its r=0, else Retry-After.
// huggingface_hub reads Retry-After only in seconds; its other form, an HTTP date (RFC 9110 §10.2.3), is read
// here too. A wait longer than MAX_SERVER_WAIT_MS is not sat out: the pull stops and says when to run again.

export const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

export interface RetryPolicy {
  maxTries: number;
  firstWaitMs: number;
  maxBackoffMs: number;
  maxServerWaitMs: number;
}

export const PULL_RETRY: RetryPolicy = {
  maxTries: 6,
  firstWaitMs: 1_000,
  maxBackoffMs: 8_000,
  // The hub's rate limits run in 5-minute windows (its RateLimit-Policy w=300).
  maxServerWaitMs: 5 * 60_000,
};

export type HeaderGetter = (name: string) => string | null;

/** The wait a server asks for, in ms (RateLimit on a 429, else Retry-After), or null when it asks none. */
export function serverWaitMs(status: number, header: HeaderGetter, now: number): number | null {
  if (status === 429) {
    const limit = /"\w+"\s*;\s*r\s*=\s*(\d+)\s*;\s*t\s*=\s*(\d+)/.exec(header("ratelimit") ?? "");
    if (limit && Number(limit[1]) === 0) return Number(limit[2]) * 1000;
  }
  const value = header("retry-after")?.trim() ?? "";
  if (value === "") return null;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP date: IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT") or the obsolete forms Date.parse also reads.
  if (!/^[A-Za-z]{3}/.test(value)) return null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export type RetryStep =
  | { retry: true; waitMs: number; asked: boolean }
  | { retry: false; why: "tries" }
  | { retry: false; why: "wait"; askedMs: number };

/** What to do after the `failures`-th failure in a row (1 for the first). */
export function nextStep(policy: RetryPolicy, failures: number, askedMs: number | null): RetryStep {
  if (failures >= policy.maxTries) return { retry: false, why: "tries" };
  if (askedMs !== null) {
    if (askedMs > policy.maxServerWaitMs) return { retry: false, why: "wait", askedMs };
    return { retry: true, waitMs: askedMs + 1_000, asked: true };
  }
  const backoff = Math.min(policy.maxBackoffMs, policy.firstWaitMs * 2 ** (failures - 1));
  return { retry: true, waitMs: backoff, asked: false };
}

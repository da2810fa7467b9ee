// Retries for the hub's API calls (the model info, each page of the file list), as huggingface_hub's
// http_backoff retries its metadata calls (retry-policy.ts): a temporary status or a failed connection is tried
// again after a wait; the hub's other answers go back to @huggingface/hub unchanged.
import { AbortedError } from "./aborted-error.js";
import { describeError, PullError } from "./pull-error.js";
import { nextStep, PULL_RETRY, RETRY_STATUSES, type RetryPolicy, serverWaitMs } from "./retry-policy.js";
import { gaveUpError, type RetryNotice, type Server, TemporaryFailure } from "./temporary-failure.js";

export interface RetryDeps {
  sleep(ms: number): Promise<void>;
  now(): number;
  onRetry(notice: RetryNotice): void;
  signal?: AbortSignal;
  policy?: RetryPolicy;
}

/** What an API URL asks for, for messages: "the model info of ORG/NAME" or "the file list of ORG/NAME". */
function callName(url: URL): string {
  const m = /^\/api\/models\/([^/]+\/[^/]+)\/(tree|revision)\//.exec(url.pathname);
  const what = m?.[2] === "tree" ? "the file list" : "the model info";
  return m ? `${what} of ${decodeURIComponent(m[1] as string)}` : what;
}

export function retryingFetch(base: typeof fetch, endpoint: string, deps: RetryDeps): typeof fetch {
  const policy = deps.policy ?? PULL_RETRY;
  const hub: Server = { role: "hub", host: new URL(endpoint).host };
  return (async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const what = callName(url);
    for (let failures = 1; ; failures++) {
      if (deps.signal?.aborted) throw new AbortedError("interrupted");
      let failure: TemporaryFailure;
      try {
        const res = await base(input, init);
        if (!RETRY_STATUSES.has(res.status)) return res;
        await res.body?.cancel();
        const asked = serverWaitMs(res.status, (n) => res.headers.get(n), deps.now());
        failure = new TemporaryFailure(hub, `HTTP ${res.status}`, res.status, asked);
      } catch (err) {
        if (err instanceof PullError || deps.signal?.aborted) throw err;
        failure = new TemporaryFailure(hub, describeError(err), null, null);
      }
      const step = nextStep(policy, failures, failure.askedMs);
      if (!step.retry) throw gaveUpError(failure, step, failures, what);
      deps.onRetry({
        server: hub,
        what,
        problem: failure.problem,
        attempt: failures,
        maxRetries: policy.maxTries - 1,
        waitMs: step.waitMs,
        asked: step.asked,
      });
      await deps.sleep(step.waitMs);
    }
  }) as typeof fetch;
}

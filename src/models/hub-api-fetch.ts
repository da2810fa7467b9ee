// The fetch the hub's API calls go through (model info, file list pages). @huggingface/hub's listFiles follows
// any `Link: <url>; rel="next"` with the Authorization header (list-files.ts), and fetch follows redirects to
// anywhere; here both stay on HF_ENDPOINT's origin, as huggingface_hub follows only relative redirects for its
// metadata calls (utils/_http.py, _httpx_follow_relative_redirects), so HF_TOKEN never leaves the hub. Answers
// are read at most MAX_API_ANSWER bytes after decompression: a small gzip body must not fill the memory.
import { PullError } from "./pull-error.js";

// The hub's largest answers (a 1000-entry tree page, a model info) are well under 1 MiB.
export const MAX_API_ANSWER = 16 * 1024 * 1024;
const MAX_REDIRECTS = 5;

export function hubApiFetch(
  endpoint: string,
  baseFetch: typeof fetch,
  maxBytes = MAX_API_ANSWER,
): typeof fetch {
  const hub = new URL(endpoint);
  return async (input, init) => {
    let url = new URL(input instanceof Request ? input.url : String(input));
    for (let hop = 0; ; hop++) {
      if (url.origin !== hub.origin) throw offOriginError(hub, url);
      const res = await baseFetch(url, { ...init, redirect: "manual" });
      const location = res.headers.get("location");
      if (res.status < 300 || res.status >= 400 || location === null) return capBody(res, maxBytes, hub);
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) {
        throw new PullError(
          "hub_error",
          `the hub at ${hub.host} redirected an API call more than ${MAX_REDIRECTS} times`,
          "check HF_ENDPOINT and any proxy in between",
        );
      }
      url = new URL(location, url);
    }
  };
}

function offOriginError(hub: URL, url: URL): PullError {
  return new PullError(
    "hub_error",
    `the hub at ${hub.host} sent an API call on to ${url.protocol}//${url.host} (a next page or a redirect), which is not HF_ENDPOINT's origin; it was not followed, so HF_TOKEN was not sent there`,
    "check HF_ENDPOINT: the Hugging Face hub pages and redirects its API on its own origin; a mirror that does not is misconfigured or hostile",
  );
}

/** The answer with a body that errors once more than `max` decoded bytes have been read. */
function capBody(res: Response, max: number, hub: URL): Response {
  if (res.body === null) return res;
  let seen = 0;
  const capped = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen <= max) controller.enqueue(chunk);
        else
          controller.error(
            new PullError(
              "hub_error",
              `the hub at ${hub.host} sent more than ${max / (1024 * 1024)} MiB (after decompression) for one API answer; it was not read further`,
              "check HF_ENDPOINT: the Hugging Face hub's API answers are far smaller; a mirror or proxy in between is misbehaving",
            ),
          );
      },
    }),
  );
  return new Response(capped, { status: res.status, statusText: res.statusText, headers: res.headers });
}

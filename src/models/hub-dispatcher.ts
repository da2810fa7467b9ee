// HTTP(S)_PROXY and NO_PROXY for pull, as huggingface_hub honours them through requests. Node's fetch and
// undici ignore them by default, which would leave a GPU node behind a corporate proxy unable to pull.
import { type Dispatcher, EnvHttpProxyAgent, fetch as undiciFetch } from "undici";

/** A proxying dispatcher when the environment names a proxy, else null (direct connections). */
export function proxyDispatcher(env: NodeJS.ProcessEnv): Dispatcher | null {
  const httpProxy = env.http_proxy ?? env.HTTP_PROXY ?? "";
  const httpsProxy = env.https_proxy ?? env.HTTPS_PROXY ?? "";
  if (httpProxy === "" && httpsProxy === "") return null;
  // Values passed explicitly (empty = none), so the agent does not read process.env behind our back.
  return new EnvHttpProxyAgent({ httpProxy, httpsProxy, noProxy: env.no_proxy ?? env.NO_PROXY ?? "" });
}

/** A fetch for @huggingface/hub that goes through the dispatcher (its calls take a `fetch` parameter). */
export function fetchVia(dispatcher: Dispatcher | null): typeof fetch {
  if (dispatcher === null) return fetch;
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}

// The Live Runner variables together: registration needs the orchestrator's secret, and the orchestrator must be
// able to reach the address we register (go-livepeer reverse-proxies clients to runner_url).
import { isLoopbackListen } from "./allowed-hosts.js";
import type { EnvValues } from "./env-schema.js";
import type { Finding } from "./model-checks.js";

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]", ""]);

export function isWildcardHost(host: string): boolean {
  return WILDCARD_HOSTS.has(host.toLowerCase());
}

function hostOf(url: string): string {
  return new URL(url).hostname;
}

/** The runner_url sent to the orchestrator, or why none can be: LIVE_RUNNER_URL, else http://HOST:PORT. */
export function resolveLiveRunnerUrl(v: {
  host: string;
  port: number;
  url: string | null;
  orchestratorUrl: string | null;
}): { url: string } | { problem: string } {
  const orchLoopback = v.orchestratorUrl !== null && isLoopbackListen(hostOf(v.orchestratorUrl));
  const fix = `Set LIVE_RUNNER_URL to an address the orchestrator at ${v.orchestratorUrl} can reach, e.g. http://10.0.0.5:${v.port}.`;
  if (v.url !== null) {
    const host = hostOf(v.url);
    if (v.orchestratorUrl !== null && !orchLoopback && (isLoopbackListen(host) || isWildcardHost(host)))
      return { problem: `is ${v.url}, which the orchestrator on another machine cannot reach. ${fix}` };
    return { url: v.url };
  }
  if (isWildcardHost(v.host)) {
    if (v.orchestratorUrl === null || orchLoopback) return { url: `http://127.0.0.1:${v.port}` };
    return {
      problem: `is not set and HOST=${v.host || "(empty)"} listens on every interface, so there is no one address to register. ${fix}`,
    };
  }
  if (v.orchestratorUrl !== null && !orchLoopback && isLoopbackListen(v.host))
    return {
      problem: `is not set and HOST=${v.host} is loopback: the orchestrator at ${v.orchestratorUrl} cannot reach it. Listen on a LAN address (HOST) and ${fix.charAt(0).toLowerCase()}${fix.slice(1)}`,
    };
  const shown = v.host.includes(":") && !v.host.startsWith("[") ? `[${v.host}]` : v.host;
  return { url: `http://${shown}:${v.port}` };
}

export function liveRunnerIssues(v: Partial<EnvValues>): Finding[] {
  const issues: Finding[] = [];
  const orch = v.LIVE_RUNNER_ORCH_URL;
  if (orch) {
    if (v.LIVE_RUNNER_SECRET === null) {
      issues.push({
        variable: "LIVE_RUNNER_SECRET",
        message:
          "is not set, but LIVE_RUNNER_ORCH_URL is: registration needs the orchestrator's -orchSecret. Set LIVE_RUNNER_SECRET to it, or unset LIVE_RUNNER_ORCH_URL.",
      });
    }
    if (v.HOST !== undefined && v.PORT !== undefined && v.LIVE_RUNNER_URL !== undefined) {
      const resolved = resolveLiveRunnerUrl({
        host: v.HOST,
        port: v.PORT,
        url: v.LIVE_RUNNER_URL,
        orchestratorUrl: orch,
      });
      if ("problem" in resolved) issues.push({ variable: "LIVE_RUNNER_URL", message: resolved.problem });
    }
  }
  if (
    v.LIVE_RUNNER_PRICE_USD_PER_HOUR === "auto" &&
    v.CURRENCY !== undefined &&
    v.CURRENCY.toUpperCase() !== "USD"
  ) {
    issues.push({
      variable: "LIVE_RUNNER_PRICE_USD_PER_HOUR",
      message: `is "auto", which prices a second so that a generated token costs PRICE_PER_UNIT / PIXELS_PER_UNIT, but CURRENCY is ${v.CURRENCY}, not USD. Set CURRENCY=USD, or a price in USD per hour.`,
    });
  }
  return issues;
}

export function liveRunnerNotes(v: Partial<EnvValues>): string[] {
  const notes: string[] = [];
  if (!v.LIVE_RUNNER_ORCH_URL && v.LIVE_RUNNER_SECRET)
    notes.push(
      "LIVE_RUNNER_SECRET is set but LIVE_RUNNER_ORCH_URL is not: the runner does not register (ignored).",
    );
  return notes;
}

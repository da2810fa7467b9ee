// Rules between the variables that decide who may reach the gateway: AUTH_TOKEN, METRICS_AUTH, CORS_ORIGINS,
// ALLOWED_HOSTS, HOST and MAX_CONNECTIONS (README "Security").
import { isLoopbackListen } from "./allowed-hosts.js";
import type { EnvValues } from "./env-schema.js";
import type { Finding } from "./model-checks.js";

export function httpExposureIssues(v: Partial<EnvValues>): Finding[] {
  if (v.METRICS_AUTH === true && v.AUTH_TOKEN === null) {
    return [
      {
        variable: "METRICS_AUTH",
        message:
          "is true, but AUTH_TOKEN is not set: /metrics would ask for a token that does not exist. Set AUTH_TOKEN (Prometheus then sends it: authorization.credentials in the scrape config), or unset METRICS_AUTH.",
      },
    ];
  }
  return [];
}

export function httpExposureNotes(v: Partial<EnvValues>): string[] {
  const notes: string[] = [];
  if (v.AUTH_TOKEN === null && v.CORS_ORIGINS === "*") {
    notes.push(
      "CORS_ORIGINS=* without AUTH_TOKEN: any web page a user of this machine opens can use this runner and read its answers. Set AUTH_TOKEN, or list the origins that may call it.",
    );
  }
  const hostChecked = v.AUTH_TOKEN === null && v.HOST !== undefined && isLoopbackListen(v.HOST);
  if (v.ALLOWED_HOSTS !== undefined && v.ALLOWED_HOSTS.length > 0 && !hostChecked) {
    notes.push(
      `ALLOWED_HOSTS is ignored: the Host header is checked only when HOST is a loopback address and AUTH_TOKEN is unset (${v.AUTH_TOKEN === null ? `HOST=${v.HOST}` : "AUTH_TOKEN is set"}).`,
    );
  }
  const admitted = (v.MAX_NUM_SEQS ?? 0) + (v.QUEUE_SIZE ?? 0);
  if (v.MAX_CONNECTIONS !== undefined && v.MAX_CONNECTIONS < admitted) {
    notes.push(
      `MAX_CONNECTIONS (${v.MAX_CONNECTIONS}) is below MAX_NUM_SEQS + QUEUE_SIZE (${admitted}): clients past ${v.MAX_CONNECTIONS} open connections are cut off before they could be queued. Set MAX_CONNECTIONS=${admitted} or more, unless that is the point.`,
    );
  }
  return notes;
}

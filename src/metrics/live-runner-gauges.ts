import { Counter, Gauge, Registry } from "prom-client";
import { HEARTBEAT_RESULTS, type LiveRunnerSnapshot } from "../livepeer/live-runner/live-runner-agent.js";
import type { LiveRunnerOffer } from "../livepeer/live-runner/live-runner-port.js";

/**
 * The Live Runner registration's series, from its snapshot at scrape time; "" when registration is off. Several
 * models (`offers`, one registration each): the same series once per model, labelled `model`.
 */
export async function renderLiveRunnerGauges(
  snapshot: LiveRunnerSnapshot | null,
  offers?: readonly LiveRunnerOffer[],
): Promise<string> {
  const each: Array<{ labels: Record<string, string>; s: LiveRunnerSnapshot }> = offers
    ? offers.map((o) => ({ labels: { model: o.model }, s: o.snapshot }))
    : snapshot === null
      ? []
      : [{ labels: {}, s: snapshot }];
  if (each.length === 0) return "";
  const labelNames = offers ? ["model"] : [];
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string, value: (s: LiveRunnerSnapshot) => number) => {
    const g = new Gauge({ name, help, labelNames, registers });
    for (const { labels, s } of each) g.set(labels, value(s));
  };
  gauge(
    "llm_runner_live_runner_registered",
    "1 while the orchestrator holds this runner's registration (a heartbeat accepted within its TTL).",
    (s) => (s.registered ? 1 : 0),
  );
  gauge("llm_runner_live_runner_ready", 'Whether the last accepted heartbeat said "ready".', (s) =>
    s.sent?.status === "ready" ? 1 : 0,
  );
  gauge(
    "llm_runner_live_runner_capacity",
    "Sessions the last accepted heartbeat offered.",
    (s) => s.sent?.capacity ?? 0,
  );
  gauge(
    "llm_runner_live_runner_sessions",
    "Sessions the orchestrator has reserved for this runner (o2r events and heartbeat replies).",
    (s) => s.sessions,
  );
  gauge(
    "llm_runner_live_runner_price_usd_per_hour",
    "The price per session slot per hour sent with the heartbeats (0: none sent).",
    (s) => s.sent?.priceUsdPerHour ?? 0,
  );
  const beats = new Counter({
    name: "llm_runner_live_runner_heartbeats_total",
    help: "Heartbeats sent to the orchestrator, by result.",
    labelNames: [...labelNames, "result"],
    registers,
  });
  for (const { labels, s } of each)
    for (const result of HEARTBEAT_RESULTS) beats.inc({ ...labels, result }, s.heartbeats[result]);
  return registry.metrics();
}

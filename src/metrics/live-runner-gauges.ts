import { Counter, Gauge, Registry } from "prom-client";
import { HEARTBEAT_RESULTS, type LiveRunnerSnapshot } from "../livepeer/live-runner/live-runner-agent.js";

/** The Live Runner registration's series, from its snapshot at scrape time; "" when registration is off. */
export async function renderLiveRunnerGauges(snapshot: LiveRunnerSnapshot | null): Promise<string> {
  if (snapshot === null) return "";
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string, value: number) =>
    new Gauge({ name, help, registers }).set(value);
  gauge(
    "llm_runner_live_runner_registered",
    "1 while the orchestrator holds this runner's registration (a heartbeat accepted within its TTL).",
    snapshot.registered ? 1 : 0,
  );
  gauge(
    "llm_runner_live_runner_ready",
    'Whether the last accepted heartbeat said "ready".',
    snapshot.sent?.status === "ready" ? 1 : 0,
  );
  gauge(
    "llm_runner_live_runner_capacity",
    "Sessions the last accepted heartbeat offered.",
    snapshot.sent?.capacity ?? 0,
  );
  gauge(
    "llm_runner_live_runner_sessions",
    "Sessions the orchestrator has reserved for this runner (o2r events and heartbeat replies).",
    snapshot.sessions,
  );
  gauge(
    "llm_runner_live_runner_price_usd_per_hour",
    "The price per session slot per hour sent with the heartbeats (0: none sent).",
    snapshot.sent?.priceUsdPerHour ?? 0,
  );
  const beats = new Counter({
    name: "llm_runner_live_runner_heartbeats_total",
    help: "Heartbeats sent to the orchestrator, by result.",
    labelNames: ["result"] as const,
    registers,
  });
  for (const result of HEARTBEAT_RESULTS) beats.inc({ result }, snapshot.heartbeats[result]);
  return registry.metrics();
}

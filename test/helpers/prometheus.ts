import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./cli.js";

// A real Prometheus server (Debian's `prometheus` package, scripts/prometheus-setup.sh) on 127.0.0.1, scraping the
// given targets every second, and its HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/).

export const INSTALL_PROMETHEUS =
  "sudo bash scripts/prometheus-setup.sh (or: sudo apt-get install prometheus)";

/** One series of an instant query's vector result. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusServer {
  url: string;
  /** Runs an instant query (`/api/v1/query`) at the server's now. */
  query(expr: string): Promise<PromSample[]>;
  stop(): Promise<void>;
}

/** The installed Prometheus's version line; throws with the install command when it is not installed. */
export function prometheusVersion(): string {
  try {
    return execFileSync("prometheus", ["--version"], { encoding: "utf8" }).split("\n")[0] ?? "";
  } catch {
    throw new Error(`prometheus is not installed (the dashboard test needs it): ${INSTALL_PROMETHEUS}`);
  }
}

export async function startPrometheus(targets: string[], scrapeIntervalS = 1): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), "llmr-prom-"));
  const port = await freePort();
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    [
      "global:",
      `  scrape_interval: ${scrapeIntervalS}s`,
      `  scrape_timeout: ${scrapeIntervalS}s`,
      "scrape_configs:",
      "  - job_name: llm-runner",
      "    static_configs:",
      `      - targets: [${targets.map((t) => `"${t}"`).join(", ")}]`,
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(
    "prometheus",
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr?.on("data", (d: Buffer) => {
    log = (log + d.toString()).slice(-4_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${log}`);
        const res = await fetch(`${url}/-/ready`).catch(() => null);
        return res?.status === 200;
      },
      20_000,
      "prometheus /-/ready",
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    stop,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: {
          resultType: string;
          result: Array<{ metric: Record<string, string>; value: [number, string] }>;
        };
      };
      if (body.status !== "success" || body.data === undefined)
        throw new Error(`prometheus refused ${expr}: ${body.error ?? res.status}`);
      if (body.data.resultType !== "vector")
        throw new Error(`${expr}: a ${body.data.resultType}, not a vector`);
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
  };
}

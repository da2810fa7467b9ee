// The deployment files as an operator uses them, checked without go-livepeer or compose (neither runs here):
// deploy/compose.yaml against go-livepeer v0.9.1's own flags (test/fixtures/go-livepeer/flags-v0.9.1.txt) and
// our config rules, deploy/llm-runner.service against the same rules, and the runner image's Dockerfile against
// the Containerfile CI builds and runs (test/deploy-runner-image.test.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ENV_NAMES } from "../src/config/env-schema.js";
import { loadConfig } from "../src/config/load-config.js";
import { REPO } from "./helpers/cli.js";

const read = (p: string) => readFileSync(join(REPO, p), "utf8");
const GO_FLAGS = new Set(
  read("test/fixtures/go-livepeer/flags-v0.9.1.txt")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#")),
);
// Variables the runner reads that are not in its config schema (README "Configuration").
const HOST_VARIABLES = new Set(["DOCKER_HOST", "HF_HOME", "HF_HUB_CACHE"]);

/** NAME=value lines, as compose's --env-file and systemd's EnvironmentFile read them. */
function envFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(
    /\$\{([A-Z_][A-Z0-9_]*)(?::([-?])([^}]*))?\}/g,
    (_all, name: string, op?: string, arg?: string) => {
      const v = vars[name];
      if (v !== undefined && v !== "") return v;
      if (op === "-") return arg ?? "";
      if (op === "?") throw new Error(`${name}: ${arg}`);
      return "";
    },
  );
}

const example = envFile(read("deploy/llm-runner.env.example"));

describe("deploy/compose.yaml", () => {
  const compose = parse(read("deploy/compose.yaml")) as {
    services: Record<string, Record<string, unknown>>;
  };
  const orch = compose.services.orchestrator as { image: string; command: string[]; network_mode: string };
  const runner = compose.services["llm-runner"] as {
    build: { context: string; dockerfile: string };
    environment: Record<string, string>;
    volumes: string[];
    network_mode: string;
    stop_grace_period: string;
  };
  const flags = new Map(
    orch.command.map((arg) => {
      const [name, value] = arg.replace(/^-+/, "").split("=", 2) as [string, string | undefined];
      return [name, value === undefined ? true : interpolate(value, example)] as const;
    }),
  );

  it("runs go-livepeer v0.9.1 (the first with -liveRunnerAddr) with flags that version defines", () => {
    expect(orch.image).toBe("livepeer/go-livepeer:v0.9.1");
    for (const name of flags.keys()) expect(GO_FLAGS.has(name), `-${name}`).toBe(true);
    expect(flags.get("orchestrator")).toBe(true);
    expect(flags.get("useLiveRunners")).toBe(true);
    // starter.go: -useLiveRunners exits without -orchSecret.
    expect(flags.get("orchSecret")).toBe(example.LIVE_RUNNER_SECRET);
    expect(flags.get("network")).toBe("offchain");
  });

  it("registers the runner at the orchestrator's -liveRunnerAddr, with the same secret, on a reachable address", async () => {
    const env = Object.fromEntries(
      Object.entries(runner.environment).map(([k, v]) => [k, interpolate(String(v), example)]),
    );
    expect(env.LIVE_RUNNER_ORCH_URL).toBe(flags.get("liveRunnerAddr"));
    expect(env.LIVE_RUNNER_SECRET).toBe(flags.get("orchSecret"));
    for (const name of Object.keys(env)) {
      expect(ENV_NAMES.includes(name as never) || HOST_VARIABLES.has(name), name).toBe(true);
    }
    // The runner's own rules accept it (MODEL_DIR need not exist here: ENGINE=sim skips the model checks).
    const loaded = await loadConfig({
      env: { HOME: "/root", ...env, ENGINE: "sim", MODEL_DIR: "" },
      cwd: REPO,
    });
    expect(loaded.ok, JSON.stringify(loaded)).toBe(true);
    // The orchestrator's -httpAddr is plain http on the address the runner calls (server/rpc.go parseHTTPAddr).
    expect(String(flags.get("httpAddr"))).toBe(env.LIVE_RUNNER_ORCH_URL);
  });

  it("gives the runner what DRIVER=docker needs, and time to drain", () => {
    expect(runner.network_mode).toBe("host");
    expect(orch.network_mode).toBe("host");
    expect(runner.volumes).toContain("/var/run/docker.sock:/var/run/docker.sock");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's own ${VAR} syntax, as written in the file
    expect(runner.volumes).toContain("${MODEL_DIR}:${MODEL_DIR}");
    expect(runner.build).toEqual({ context: "..", dockerfile: "Dockerfile" });
    // DRAIN_TIMEOUT 30 s + ENGINE_STOP_GRACE 10 s before compose's SIGKILL.
    expect(Number.parseInt(runner.stop_grace_period, 10)).toBeGreaterThanOrEqual(45);
  });
});

describe("deploy/llm-runner.service", () => {
  const unit = new Map<string, string[]>();
  for (const line of read("deploy/llm-runner.service").split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) unit.set(m[1] as string, [...(unit.get(m[1] as string) ?? []), m[2] as string]);
  }
  const one = (k: string) => unit.get(k)?.[0];

  it("runs the built CLI in the foreground and stops it with SIGTERM, with time to drain", () => {
    expect(one("ExecStart")).toBe("/usr/bin/node /opt/llm-runner/dist/cli/main.js start");
    expect(one("Type")).toBe("simple");
    expect(one("KillSignal")).toBe("SIGTERM");
    expect(Number(one("TimeoutStopSec"))).toBeGreaterThanOrEqual(45);
    expect(one("Restart")).toBe("on-failure");
    expect(one("EnvironmentFile")).toBe("/etc/llm-runner.env");
  });

  it("its environment is one the runner accepts", async () => {
    const env: Record<string, string> = { ...example };
    for (const e of unit.get("Environment") ?? []) {
      const [k, v] = e.split("=", 2) as [string, string];
      env[k] = v;
    }
    for (const name of Object.keys(env))
      expect(ENV_NAMES.includes(name as never) || HOST_VARIABLES.has(name), name).toBe(true);
    const loaded = await loadConfig({
      env: { HOME: "/root", ...env, ENGINE: "sim", MODEL_DIR: "" },
      cwd: REPO,
    });
    expect(loaded.ok, JSON.stringify(loaded)).toBe(true);
  });
});

describe("the runner image", () => {
  /** The instructions of a Containerfile's last stage, continuation lines joined. */
  function lastStage(text: string): string[] {
    const lines = text
      .replace(/\\\n\s*/g, " ")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    const from = lines.map((l) => l.startsWith("FROM ")).lastIndexOf(true);
    return lines.slice(from);
  }
  const prod = lastStage(read("Dockerfile"));
  const ci = lastStage(read("test/fixtures/runner-image/Containerfile"));
  const pick = (stage: string[], word: string) => stage.filter((l) => l.startsWith(`${word} `));
  const dest = (copy: string) => copy.split(/\s+/).at(-1);

  it("the image CI runs has the layout, environment and entry point of the Dockerfile", () => {
    expect(pick(ci, "WORKDIR")).toEqual(pick(prod, "WORKDIR"));
    expect(pick(ci, "ENV")).toEqual(pick(prod, "ENV"));
    expect(pick(ci, "VOLUME")).toEqual(pick(prod, "VOLUME"));
    expect(pick(ci, "STOPSIGNAL")).toEqual(pick(prod, "STOPSIGNAL"));
    expect(pick(ci, "CMD")).toEqual(pick(prod, "CMD"));
    expect(
      pick(ci, "COPY")
        .map(dest)
        .filter((d) => d !== "/usr/local/bin/node"),
    ).toEqual(pick(prod, "COPY").map(dest));
    // The prod image runs node under tini; the CI image under podman's --init.
    expect(pick(prod, "ENTRYPOINT")[0]).toBe(
      'ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/llm-runner/dist/cli/main.js"]',
    );
    expect(pick(ci, "ENTRYPOINT")[0]).toBe('ENTRYPOINT ["node", "/opt/llm-runner/dist/cli/main.js"]');
    expect(read("Dockerfile")).toMatch(/^FROM node:20-slim AS build$/m);
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, cliEnv, freePort, runCli, spawnCli, tempHome, waitFor } from "./helpers/cli.js";

beforeAll(() => assertBuilt());

describe("llm-runner check (the preflight doctor)", () => {
  it("passes on a working simulator setup (process driver)", async () => {
    const { home, cleanup } = tempHome();
    try {
      const port = await freePort();
      const res = await runCli(
        ["check", "--engine", "sim", "--driver", "process", "--port", String(port)],
        cliEnv(home),
      );
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(res.stdout).toContain("✔ configuration valid");
      expect(res.stdout).toMatch(/✔ python3 is Python 3\.\d+/);
      expect(res.stdout).toContain("✔ engine runtime importable");
      expect(res.stdout).not.toContain("✘");
    } finally {
      cleanup();
    }
  });

  it("names what is broken, with the fix, and exits non-zero", async () => {
    const { home, cleanup } = tempHome();
    try {
      const env = cliEnv(home, {
        DOCKER_HOST: "unix:///nonexistent/docker.sock",
        LLM_RUNNER_FAKE_GPUS: "test/fixtures/gpu/h100-query-gpu.csv",
      });
      // vLLM in Docker with no Docker, a python that does not exist for the process driver is not asked here.
      const res = await runCli(
        ["check", "--engine", "vllm", "--driver", "docker", "--port", String(await freePort())],
        env,
      );
      expect(res.code).toBe(1);
      expect(res.stdout).toContain("✘ Docker API not reachable at unix:///nonexistent/docker.sock");
      expect(res.stdout).toContain("fix: start Docker");
      expect(res.stdout).toMatch(/✔ 1 GPU\(s\) for the engine: #0 NVIDIA H100 80GB HBM3/);

      const py = await runCli(["check", "--engine", "sim", "--driver", "process"], {
        ...env,
        PYTHON: "/nonexistent/python3",
      });
      expect(py.code).toBe(1);
      expect(py.stdout).toContain("✘ cannot run '/nonexistent/python3'");
      expect(py.stdout).toContain("fix: install python3");
    } finally {
      cleanup();
    }
  });

  it("a bad configuration is ✘ per problem and exit 2; --json is machine-readable", async () => {
    const { home, cleanup } = tempHome();
    try {
      const res = await runCli(
        ["check", "--json", "--engine", "sim", "--driver", "process"],
        cliEnv(home, { MAX_NUM_SEQS: "0", MAX_MODEL_LEN: "16384" }),
      );
      expect(res.code).toBe(2);
      const body = JSON.parse(res.stdout) as {
        ok: boolean;
        results: Array<{ level: string; message: string }>;
      };
      expect(body.ok).toBe(false);
      const fails = body.results.filter((r) => r.level === "fail").map((r) => r.message);
      expect(fails.some((m) => m.startsWith("MAX_NUM_SEQS=0"))).toBe(true);
      // Batched tokens below the context is legal (vLLM V1 chunks prefill): a ! note, not a ✘.
      expect(fails.some((m) => m.includes("MAX_NUM_BATCHED_TOKENS"))).toBe(false);
      const warns = body.results.filter((r) => r.level === "warn").map((r) => r.message);
      expect(
        warns.some((m) => m.includes("MAX_NUM_BATCHED_TOKENS (8192) is below MAX_MODEL_LEN (16384)")),
      ).toBe(true);
    } finally {
      cleanup();
    }
  });

  it("sees a port held by a running llm-runner and says to stop it", async () => {
    const { home, cleanup } = tempHome();
    const port = await freePort();
    const env = cliEnv(home, {
      ENGINE: "sim",
      DRIVER: "process",
      HOST: "127.0.0.1",
      PORT: String(port),
      ENGINE_PORT: "0",
    });
    const runner = spawnCli(["start"], env);
    try {
      await waitFor(() => runner.output().includes("llm-runner is ready"), 30_000, "the runner to be ready");
      const res = await runCli(["check"], env);
      expect(res.code).toBe(1);
      expect(res.stdout).toContain(`✘ port ${port} on 127.0.0.1 is not available`);
      expect(res.stdout).toContain("fix: llm-runner stop");
      const logs = await runCli(["logs", "--engine", "-n", "5"], env);
      expect(logs.code).toBe(0);
      expect(logs.stdout.trim().split("\n").length).toBeLessThanOrEqual(5);
    } finally {
      const exited = new Promise((r) => runner.once("exit", r));
      runner.kill("SIGTERM");
      await exited;
      cleanup();
    }
  });
});

"""vLLM's --otlp-traces-endpoint: the simulator takes it (the runner passes it when tracing is on), exports nothing,
and logs the W3C traceparent each generation arrived with, where vLLM would parent its own request span."""

from __future__ import annotations

import unittest

from .support import Sim, chat, runtime_env, wait_until

KEY = "test-secret-key"
AUTH = {"authorization": f"Bearer {KEY}"}
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class SimTracingTest(unittest.TestCase):
    def test_takes_the_flag_and_logs_each_generations_traceparent(self) -> None:
        with Sim("--otlp-traces-endpoint", "http://127.0.0.1:4318/v1/traces",
                 env=runtime_env({"VLLM_API_KEY": KEY})) as sim:
            status, _ = sim.json("POST", "/v1/chat/completions", chat("hi", max_tokens=2),
                                 {**AUTH, "traceparent": PARENT})
            self.assertEqual(status, 200)
            status, _ = sim.json("POST", "/v1/completions", {"model": "test-model", "prompt": "hi", "max_tokens": 1},
                                 AUTH)
            self.assertEqual(status, 200)
            lines = wait_until(lambda: [line for line in sim.stderr_lines if "traceparent=" in line]
                               if len([line for line in sim.stderr_lines if "traceparent=" in line]) == 2 else None)
            self.assertTrue(lines[0].endswith(f"traceparent={PARENT}"), lines[0])
            self.assertTrue(lines[1].endswith("traceparent=-"), lines[1])

    def test_logs_no_traceparent_without_the_flag(self) -> None:
        with Sim(env=runtime_env({"VLLM_API_KEY": KEY})) as sim:
            status, _ = sim.json("POST", "/v1/chat/completions", chat("hi", max_tokens=2), {**AUTH, "traceparent": PARENT})
            self.assertEqual(status, 200)
            sim.stop()
            self.assertEqual([line for line in sim.stderr_lines if "traceparent" in line], [])


if __name__ == "__main__":
    unittest.main()

"""The simulator's /metrics names and types are exactly the vLLM series listed in test/fixtures/vllm/metrics-names.txt
(taken from vLLM's source; the file names it), so what the gateway relays and dashboards read is what vLLM serves."""

from __future__ import annotations

import os
import unittest

from .support import FIXTURES, Sim


def listed() -> dict[str, str]:
    names: dict[str, str] = {}
    with open(os.path.join(FIXTURES, "metrics-names.txt"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, kind = line.split()
                names[name] = kind
    return names


class MetricsNamesTest(unittest.TestCase):
    def test_the_simulator_serves_the_listed_vllm_series(self) -> None:
        with Sim() as sim:
            status, _, body = sim.request("GET", "/metrics")
        self.assertEqual(status, 200)
        served = {}
        for line in body.decode().splitlines():
            if line.startswith("# TYPE vllm:"):
                _, _, name, kind = line.split()
                served[name] = kind
        self.assertEqual(served, listed())


if __name__ == "__main__":
    unittest.main()

"""The Python side of the lifecycle protocol matches src/protocol/lifecycle.ts, and the flag list matches the fixture."""

from __future__ import annotations

import json
import os
import re
import unittest

from llm_runtime import lifecycle
from llm_runtime.serve_flags import NEWER_SERVE_FLAGS, SERVE_FLAGS, SHORT_ALIASES

from .support import FIXTURES, REPO_DIR


class LifecycleContractTest(unittest.TestCase):
    def test_fatal_reasons_match_the_typescript_contract(self) -> None:
        with open(os.path.join(REPO_DIR, "src", "protocol", "lifecycle.ts"), encoding="utf-8") as f:
            source = f.read()
        block = re.search(r"FATAL_REASONS = \[(.*?)\] as const", source, re.S)
        assert block is not None
        self.assertEqual(tuple(re.findall(r'"([a-z_]+)"', block.group(1))), lifecycle.FATAL_REASONS)
        self.assertIn(f'LIFECYCLE_KEY = "{lifecycle.LIFECYCLE_KEY}"', source)

    def test_every_reason_has_a_hint(self) -> None:
        self.assertEqual(set(lifecycle.HINTS), set(lifecycle.FATAL_REASONS))

    def test_lines_round_trip_and_are_single_json_lines(self) -> None:
        events = [lifecycle.starting("sim", "0.1.0", pid=7), lifecycle.loading(0.5, "shards: 2/4"),
                  lifecycle.loading(None, "warming up"), lifecycle.ready("Application startup complete."),
                  lifecycle.fatal("cuda_oom", "torch.OutOfMemoryError: CUDA out of memory.")]
        for event in events:
            line = lifecycle.encode(event)
            self.assertNotIn("\n", line)
            self.assertTrue(line.startswith('{"llm_runtime":{"event":'))
            self.assertEqual(lifecycle.decode("2025-01-01 prefix " + line), event)
            self.assertEqual(json.loads(line), {"llm_runtime": event})
        self.assertIsNone(lifecycle.decode("INFO plain log line"))
        self.assertEqual(lifecycle.loading(3.0, "x")["progress"], 1.0)

    def test_unknown_reason_is_refused(self) -> None:
        with self.assertRaisesRegex(ValueError, "unknown fatal reason 'meteor'"):
            lifecycle.fatal("meteor", "x")


class ServeFlagsFixtureTest(unittest.TestCase):
    def test_embedded_flag_list_matches_the_fixture(self) -> None:
        listed: list[str] = []
        with open(os.path.join(FIXTURES, "serve-flags.txt"), encoding="utf-8") as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    listed.append(line.strip())
        self.assertEqual(set(listed), SERVE_FLAGS)
        self.assertTrue(NEWER_SERVE_FLAGS.isdisjoint(SERVE_FLAGS))
        self.assertTrue(set(SHORT_ALIASES.values()) <= SERVE_FLAGS)


if __name__ == "__main__":
    unittest.main()

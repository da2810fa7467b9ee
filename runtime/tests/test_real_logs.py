"""Real vLLM output that users posted (runtime/tests/fixtures/real/, each file names its source, vLLM version and
GPU) replayed through the launcher path: `python3 -m llm_runtime --engine vllm` runs a fake `vllm` that prints the
excerpt and exits with the case's code (or keeps running). Each header says what an expert concludes:
  expect: fatal <reason>        the start fails for that reason; detail and hint hold the given text
  expect: died engine_error     it died while serving, without being asked to stop (any exit code, 0 included)
  expect: ready                 a ready hint with that detail, no fatal
  expect: loading               still loading: no ready line in the log (the HTTP probe decides), no fatal
"""

from __future__ import annotations

import os
import signal
import tempfile
import unittest

from .support import RuntimeProcess, runtime_env, wait_until
from .test_vllm_launcher import ARGS, FAKE_SMI, FAKE_VLLM

REAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "real")
REQUIRED = ("source", "vllm", "gpu", "exit", "expect", "detail")


def read_case(path: str) -> tuple[dict[str, str], list[str]]:
    header: dict[str, str] = {}
    lines: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# ") and ":" in line and not lines:
                key, _, value = line[2:].partition(":")
                header[key.strip()] = value.strip()
            elif not line.startswith("#"):
                lines.append(line.rstrip("\n"))
    return header, lines


def cases() -> list[str]:
    return sorted(f for f in os.listdir(REAL) if f.endswith(".log"))


class RealLogSetTest(unittest.TestCase):
    def test_the_set_is_big_enough_and_every_case_is_documented(self) -> None:
        self.assertGreaterEqual(len(cases()), 15)
        reasons = set()
        for name in cases():
            header, lines = read_case(os.path.join(REAL, name))
            with self.subTest(case=name):
                for key in REQUIRED:
                    self.assertTrue(header.get(key), f"header '{key}' missing")
                self.assertRegex(header["source"], r"^https://github\.com/\S+/(issues|pull)/\d+")
                self.assertTrue(lines, "no log lines")
                kind, _, reason = header["expect"].partition(" ")
                self.assertIn(kind, ("fatal", "died", "ready", "loading"))
                reasons.add(reason or kind)
        # Every fatal reason a real vLLM can produce (injected is the simulator's own) and a death while serving.
        for reason in ("cuda_oom", "gpu_memory_busy", "kv_cache_oom", "model_access", "model_not_found",
                       "bad_config", "no_gpu", "engine_error", "ready", "loading"):
            self.assertIn(reason, reasons)


class RealLogReplayTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.bin = os.path.join(self.tmp.name, "bin")
        os.mkdir(self.bin)
        for name, text in (("vllm", FAKE_VLLM), ("nvidia-smi", FAKE_SMI)):
            path = os.path.join(self.bin, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)

    def replay(self, name: str, header: dict[str, str]) -> RuntimeProcess:
        running = header["exit"] == "running"
        env = {"PATH": self.bin + os.pathsep + os.environ.get("PATH", ""), "FAKE_VLLM_LOG": os.path.join(REAL, name),
               "FAKE_VLLM_ARGV_FILE": os.path.join(self.tmp.name, "argv"),
               "HF_HUB_CACHE": os.path.join(self.tmp.name, "empty-hub")}  # no weights known: hints from the log only
        env.update({"FAKE_VLLM_WAIT": "1"} if running else {"FAKE_VLLM_EXIT": header["exit"]})
        if header["expect"].startswith("fatal"):
            env["FAKE_VLLM_STDERR"] = "1"  # vLLM prints its tracebacks on stderr; both streams are read
        proc = RuntimeProcess(["--engine", "vllm", *ARGS], env=runtime_env(env))
        self.addCleanup(proc.stop)
        return proc

    def test_every_real_case_ends_as_an_expert_would(self) -> None:
        for name in cases():
            header, lines = read_case(os.path.join(REAL, name))
            with self.subTest(case=name):
                self.check(name, header, lines)

    def check(self, name: str, header: dict[str, str], lines: list[str]) -> None:
        proc = self.replay(name, header)
        kind, _, reason = header["expect"].partition(" ")
        if header["exit"] == "running":
            if kind == "ready":
                proc.wait_event("ready")
            wait_until(lambda: lines[-1] in proc.stdout_lines, timeout=15)
            proc.proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait_exit(), 0)
        else:
            self.assertEqual(proc.wait_exit(), int(header["exit"]))
        events = proc.all_events
        fatal = [e for e in events if e["event"] == "fatal"]
        ready = [e for e in events if e["event"] == "ready"]
        if kind in ("fatal", "died"):
            self.assertEqual(len(fatal), 1, events)
            self.assertEqual(fatal[0]["reason"], reason)
            self.assertIn(header["detail"], fatal[0]["detail"])
            self.assertIn(header["hint"], fatal[0]["hint"])
            self.assertNotRegex(fatal[0]["detail"], r"^\s*(raise |File \")", "a message, not a source line")
            if kind == "fatal":
                self.assertEqual(ready, [], "a failed start is never ready")
            else:
                self.assertTrue(fatal[0]["detail"].startswith("vLLM died while serving"), fatal[0]["detail"])
            self.assertEqual(events[-1]["event"], "fatal", "the fatal line is the last word")
        elif kind == "ready":
            self.assertEqual(fatal, [])
            self.assertEqual([e["detail"] for e in ready], [header["detail"]])
        else:
            self.assertEqual((fatal, ready), ([], []))
            self.assertIn(header["detail"], [e["detail"] for e in events if e["event"] == "loading"])

    def test_relayed_output_is_the_log_verbatim(self) -> None:
        name = "died-serving-engine-dead-exit0-0.20.2.log"
        header, lines = read_case(os.path.join(REAL, name))
        proc = self.replay(name, header)
        proc.wait_exit()
        relayed = [line for line in proc.stdout_lines if not line.startswith('{"llm_runtime"')]
        self.assertEqual(relayed, lines)


if __name__ == "__main__":
    unittest.main()

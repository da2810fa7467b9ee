"""The vLLM log parser against every recorded start-up log in test/fixtures/vllm/logs/ (each header says what to
conclude) and against single lines."""

from __future__ import annotations

import os
import unittest
from typing import Any

from llm_runtime import lifecycle
from llm_runtime.log_parser import VllmLogParser, strip_line

from .support import FIXTURES

LOGS = os.path.join(FIXTURES, "logs")

# What each fixture's "# Expect:" header asks for.
EXPECTED_FATAL = {
    "free-memory-below-utilization.log": ("gpu_memory_busy", "Free memory on device (20.12/79.19 GiB)"),
    "gated-repo-401.log": ("model_access", "meta-llama/Meta-Llama-3.1-8B-Instruct"),
    "kv-cache-no-memory.log": ("kv_cache_oom", "No available memory for the cache blocks"),
    "max-model-len-too-large.log": ("bad_config", "User-specified max_model_len (262144) is greater than"),
    "oom-weights.log": ("cuda_oom", "torch.OutOfMemoryError: CUDA out of memory."),
}
EXPECTED_READY = {
    # vLLM 0.11's own line comes before uvicorn's "Application startup complete." and is the first sign of serving.
    "startup-ok-tp1.log": ([0.0, 0.25, 0.5, 0.75, 1.0], "Starting vLLM API server 0 on http://127.0.0.1:41233"),
    "startup-ok-tp2-workers.log": ([i / 6 for i in range(7)], "Starting vLLM server on http://127.0.0.1:40100"),
}


def run_log(name: str, exit_code: int | None) -> list[dict[str, Any]]:
    """The events from replaying a fixture; exit_code None: the engine is still running (no exit seen)."""
    parser = VllmLogParser()
    events: list[dict[str, Any]] = []
    with open(os.path.join(LOGS, name), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            events += parser.feed(line)
    final = parser.conclude(exit_code) if exit_code is not None else None
    return events + ([final] if final else [])


class FixtureLogsTest(unittest.TestCase):
    def test_every_fixture_has_an_expectation(self) -> None:
        self.assertEqual(sorted(os.listdir(LOGS)), sorted([*EXPECTED_FATAL, *EXPECTED_READY]))

    def test_fatal_starts(self) -> None:
        for name, (reason, detail) in EXPECTED_FATAL.items():
            with self.subTest(log=name):
                events = run_log(name, 1)
                fatal = [e for e in events if e["event"] == "fatal"]
                self.assertEqual(len(fatal), 1, events)
                self.assertEqual(fatal[0]["reason"], reason)
                self.assertIn(detail, fatal[0]["detail"])
                self.assertNotIn("See root cause above", fatal[0]["detail"])
                self.assertTrue(fatal[0]["hint"])
                self.assertNotIn("ready", [e["event"] for e in events])

    def test_fatal_hints_tell_the_operator_what_to_change(self) -> None:
        hints = {name: next(e for e in run_log(name, 1) if e["event"] == "fatal")["hint"] for name in EXPECTED_FATAL}
        self.assertIn("GPU_MEMORY_UTILIZATION=0.24", hints["free-memory-below-utilization.log"])
        self.assertIn("HF_TOKEN", hints["gated-repo-401.log"])
        self.assertIn("GPU_MEMORY_UTILIZATION", hints["kv-cache-no-memory.log"])
        self.assertIn("MAX_MODEL_LEN to 131072", hints["max-model-len-too-large.log"])
        self.assertIn("TENSOR_PARALLEL_SIZE", hints["oom-weights.log"])

    def test_fatal_is_reported_at_the_summary_line_without_waiting_for_exit(self) -> None:
        # Logs that end with vLLM's "Engine core initialization failed" summary give the fatal before exit.
        for name in ("free-memory-below-utilization.log", "kv-cache-no-memory.log", "oom-weights.log"):
            with self.subTest(log=name):
                events = run_log(name, None)
                parser_fatal = [e for e in events if e["event"] == "fatal"]
                self.assertEqual(len(parser_fatal), 1)

    def test_good_starts_report_shard_progress_then_ready(self) -> None:
        for name, (progress, ready_detail) in EXPECTED_READY.items():
            with self.subTest(log=name):
                events = run_log(name, None)
                shard = [e["progress"] for e in events
                         if e["event"] == "loading" and e["detail"].startswith("Loading safetensors")]
                self.assertEqual(len(shard), len(progress), "100% is printed twice but reported once")
                for got, want in zip(shard, progress):
                    self.assertAlmostEqual(got, want)
                ready = [e for e in events if e["event"] == "ready"]
                self.assertEqual(len(ready), 1)
                self.assertEqual(ready[0]["detail"], ready_detail)
                self.assertEqual(events[-1]["event"], "ready")
                self.assertNotIn("fatal", [e["event"] for e in events])
                loading = [e["progress"] for e in events if e["event"] == "loading" and e["progress"] is not None]
                self.assertEqual(loading, sorted(loading), "progress never goes back")

    def test_death_after_ready_is_an_engine_error_at_exit(self) -> None:
        events = run_log("startup-ok-tp1.log", 137)
        self.assertEqual(events[-1]["event"], "fatal")
        self.assertEqual(events[-1]["reason"], "engine_error")
        self.assertIn("code 137", events[-1]["detail"])


class LineTest(unittest.TestCase):
    def test_strip_line(self) -> None:
        self.assertEqual(strip_line("(EngineCore_0 pid=4180) INFO 11-02 09:14:20 [default_loader.py:262] Loading"
                                    " weights took 3.77 seconds\n"), "Loading weights took 3.77 seconds")
        self.assertEqual(strip_line("(Worker_TP0 pid=120) "), "")
        self.assertEqual(strip_line("(APIServer pid=77) INFO:     Application startup complete."),
                         "Application startup complete.")
        self.assertEqual(strip_line("\x1b[1;36m(RayWorkerWrapper pid=9, ip=10.0.0.2)\x1b[0m ERROR 11-02 10:00:00 "
                                    "[x.py:1] boom"), "boom")

    def test_the_2026_start_up_banner_is_neither_progress_nor_a_milestone(self) -> None:
        # vLLM 0.23's banner, as posted in https://github.com/vllm-project/vllm/issues/46169 (2026-06): block
        # characters like a progress bar's, and the version where 0.10 printed "vLLM API server version X".
        banner = [
            "(APIServer pid=1) INFO 06-19 15:35:00 [api_utils.py:339]",
            "(APIServer pid=1) INFO 06-19 15:35:00 [api_utils.py:339]        █     █     █▄   ▄█",
            "(APIServer pid=1) INFO 06-19 15:35:00 [api_utils.py:339]  ▄▄ ▄█ █     █     "
            "█ ▀▄▀ █  version 0.23.0",
            "(APIServer pid=1) INFO 06-19 15:35:00 [api_utils.py:339]   █▄█▀ █     █     "
            "█     █  model   Qwen/Qwen3.5-2B",
            "(APIServer pid=1) INFO 06-19 15:35:00 [api_utils.py:273] non-default args: {'model_tag': "
            "'Qwen/Qwen3.5-2B', 'port': 3456, 'model': 'Qwen/Qwen3.5-2B', 'language_model_only': True}",
        ]
        parser = VllmLogParser()
        for line in banner:
            self.assertEqual(parser.feed(line), [], line)
        self.assertIsNone(parser.progress)
        self.assertFalse(parser.ready)

    def test_reasons_from_single_lines(self) -> None:
        cases = {
            "RuntimeError: No CUDA GPUs are available": "no_gpu",
            "ValueError: Total number of attention heads (32) must be divisible by tensor parallel size (3).":
                "bad_config",
            "ValueError: max_num_batched_tokens (8) must be greater than or equal to max_num_seqs (16).":
                "bad_config",
            "huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. Repository Not Found for url: x":
                "model_not_found",
            "ValueError: The model's max seq len (131072) is larger than the maximum number of tokens that can be "
            "stored in KV cache (81920).": "kv_cache_oom",
            "OSError: [Errno 98] Address already in use": "engine_error",
            "vllm serve: error: unrecognized arguments: --bogus": "bad_config",
            "KeyError: 'something odd'": "engine_error",
        }
        for line, reason in cases.items():
            with self.subTest(line=line):
                parser = VllmLogParser()
                parser.feed(f"(APIServer pid=1) ERROR 11-02 10:00:00 [x.py:1] {line}")
                event = parser.conclude(1)
                assert event is not None
                self.assertEqual(event["reason"], reason)
                self.assertIn(event["reason"], lifecycle.FATAL_REASONS)

    def test_any_exit_nobody_asked_for_is_fatal_even_code_0(self) -> None:
        event = VllmLogParser().conclude(0)
        assert event is not None
        self.assertEqual((event["reason"], event["detail"]),
                         ("engine_error", "vllm serve exited with code 0 without being asked to stop before it was "
                          "ready; last output: (no output)"))
        event = VllmLogParser().conclude(3)
        assert event is not None
        self.assertEqual((event["reason"], event["detail"]),
                         ("engine_error", "vllm serve exited with code 3 before it was ready; last output: (no output)"))


def conclude(lines: list[str], exit_code: int = 1) -> dict[str, Any]:
    parser = VllmLogParser()
    for line in lines:
        parser.feed(line)
    event = parser.conclude(exit_code)
    assert event is not None
    return event


class TracebackTest(unittest.TestCase):
    """A traceback read as an expert reads it: the `raise` statement names the failure when the excerpt stops before
    the exception line; other source lines never count, whatever text they quote."""

    P = "(EngineCore_DP0 pid=6804) "

    def test_a_python_3_12_raise_cut_before_its_exception_line(self) -> None:
        # Hand-made from vLLM's V1 traceback as Python 3.12 prints it (vllm-project/vllm#14574): the raise shows its
        # first line only; the excerpt stops there.
        event = conclude([
            f"{self.P}ERROR 03-10 08:07:20 [core.py:302]   File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/"
            "core/kv_cache_utils.py\", line 507, in check_enough_kv_cache_memory",
            f'{self.P}ERROR 03-10 08:07:20 [core.py:302]     raise ValueError("No available memory for the cache blocks. "',
        ])
        self.assertEqual(event["reason"], "kv_cache_oom")
        self.assertEqual(event["detail"], "ValueError: No available memory for the cache blocks.")
        self.assertIn("GPU_MEMORY_UTILIZATION", event["hint"])

    def test_the_exception_line_wins_over_the_raise_that_printed_it(self) -> None:
        # vllm-project/vllm-omni#946 (vLLM V1, Python 3.12): `raise ValueError(` alone, then the exception line.
        event = conclude([
            f'{self.P}  File "/usr/local/lib/python3.12/dist-packages/vllm/v1/core/kv_cache_utils.py", line 616, in '
            "_check_enough_kv_cache_memory",
            f"{self.P}    raise ValueError(",
            f"{self.P}ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` "
            "when initializing the engine. See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for "
            "more details.",
        ])
        self.assertEqual(event["reason"], "kv_cache_oom")
        self.assertTrue(event["detail"].endswith("for more details."), event["detail"])

    def test_an_f_string_raise_and_its_values(self) -> None:
        # Hand-made after vLLM's gpu_worker start-up check, printed whole as Python 3.13 does.
        raise_lines = [
            f'{self.P}  File "/x/vllm/v1/worker/gpu_worker.py", line 239, in init_device',
            f"{self.P}    raise ValueError(",
            f'{self.P}        f"Free memory on device {{self.device}} "',
            f'{self.P}        f"({{GiB(self.init_snapshot.free_memory)}}/{{GiB(self.init_snapshot.total_memory)}} GiB) "',
            f'{self.P}        f"on startup is less than desired GPU memory utilization "',
            f'{self.P}        ...<2 lines>...',
        ]
        cut = conclude(raise_lines)
        self.assertEqual(cut["reason"], "gpu_memory_busy")
        self.assertEqual(cut["detail"], "ValueError: Free memory on device … (…/… GiB) on startup is less than desired "
                         "GPU memory utilization …")
        full = conclude([*raise_lines, f"{self.P}    )", f"{self.P}ValueError: Free memory on device cuda:0 "
                         "(20.12/79.19 GiB) on startup is less than desired GPU memory utilization (0.97, 76.81 GiB)."])
        self.assertEqual(full["reason"], "gpu_memory_busy")
        self.assertIn("(20.12/79.19 GiB)", full["detail"])

    def test_other_known_failures_raised(self) -> None:
        cases = {
            # torch/cuda/__init__.py, _lazy_init
            'raise RuntimeError("No CUDA GPUs are available")': "no_gpu",
            "raise ValueError('Total number of attention heads must be divisible by tensor parallel size')":
                "bad_config",
        }
        for source, reason in cases.items():
            with self.subTest(source=source):
                event = conclude([f'{self.P}  File "/x/y.py", line 1, in f', f"{self.P}    {source}"])
                self.assertEqual(event["reason"], reason)

    def test_source_text_that_is_not_a_raise_never_counts(self) -> None:
        for source in (
            'if "No available memory for the cache blocks" in str(err):',
            'logger.error("CUDA out of memory while profiling")',
            'raise ValueError(msg + "No available memory for the cache blocks")',
        ):
            with self.subTest(source=source):
                event = conclude([f'{self.P}  File "/x/y.py", line 1, in f', f"{self.P}    {source}"])
                self.assertEqual(event["reason"], "engine_error")
                self.assertTrue(event["detail"].startswith("vllm serve exited with code 1"), event["detail"])

    def test_a_raise_of_an_unknown_message_is_no_cause(self) -> None:
        event = conclude([f'{self.P}  File "/x/y.py", line 1, in f', f'{self.P}    raise ValueError("something odd")',
                          f"{self.P}KeyError: 'other'"])
        self.assertEqual((event["reason"], event["detail"]), ("engine_error", "KeyError: 'other'"))

    def test_a_frame_without_source_leaves_the_exception_line_read(self) -> None:
        event = conclude([f'{self.P}  File "uvloop/loop.pyx", line 1518, in uvloop.loop.Loop.run_until_complete',
                          f"{self.P}RuntimeError: No CUDA GPUs are available"])
        self.assertEqual(event["reason"], "no_gpu")


if __name__ == "__main__":
    unittest.main()

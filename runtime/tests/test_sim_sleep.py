"""The simulator's sleep mode (sim/sleep.py), against what vLLM does (sources cited there and in runtime/README.md):
the routes exist only with VLLM_SERVER_DEV_MODE; /sleep pauses the scheduler (mode abort: every request ends with
finish_reason abort; wait: the running ones finish; keep: they are preempted), empties the prefix cache from level 1
and puts the weights in host RAM (level 1) or forgets them (level 2); requests sent meanwhile are queued and run once
awake; /is_sleeping answers after the call ahead of it; /health stays 200; vllm:engine_sleep_state tells the level.
Timings and memory on a simulated clock where no HTTP is involved."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import unittest
from typing import Any

from llm_runtime.log_parser import VllmLogParser
from llm_runtime.sim import sleep as sleep_mode
from llm_runtime.sim.engine import PAUSED_NEW, UNPAUSED, Engine
from llm_runtime.sim.metrics import EngineMetrics
from llm_runtime.sim.options import DEFAULT_WEIGHTS_GIB, SimOptions, parse_sim_options
from llm_runtime.sim.requests import ApiError, plan_reply

from .support import Sim, runtime_env

GIB = 1024**3
H100 = 81_559 * 1024**2
DEV = runtime_env({"VLLM_SERVER_DEV_MODE": "1"})


def options(*flags: str) -> SimOptions:
    return parse_sim_options(["m", "--served-model-name", "test-model", *flags], {})


def ids(start: int, count: int) -> list[int]:
    return list(range(start, start + count))


class TimingTest(unittest.TestCase):
    """Published means (vLLM blog 2025-10-26, one A100, vLLM 0.11.0), piecewise linear in the weight size."""

    def test_the_published_runs_are_reproduced_at_their_weight_sizes(self) -> None:
        pub = sleep_mode.published_seconds
        self.assertAlmostEqual(pub("sleep", 1, 7.730), 0.415)  # Phi-3-vision: level-1 sleep
        self.assertAlmostEqual(pub("wake", 1, 7.730), 0.823)
        self.assertAlmostEqual(pub("wake", 1, 56.81), 2.867)  # Qwen3-Coder-30B-A3B
        self.assertAlmostEqual(pub("sleep", 2, 1.118), 0.113)  # Qwen3-0.6B: level-2 sleep
        self.assertAlmostEqual(pub("wake", 2, 7.730), 2.583)  # wake_up + reload_weights

    def test_defaults_for_an_8b_model(self) -> None:
        opts = options("--enable-sleep-mode")
        self.assertEqual(opts.weights_gib, DEFAULT_WEIGHTS_GIB)
        self.assertAlmostEqual(sleep_mode.sleep_seconds(opts, 1), 0.765, places=3)
        self.assertAlmostEqual(sleep_mode.wake_seconds(opts, 1, True), 1.125, places=3)
        self.assertAlmostEqual(sleep_mode.sleep_seconds(opts, 2), 0.830, places=3)
        # A level-2 wake is /wake_up (remapping, what the level-2 sleep cost) then reload_weights: the blog's total.
        l2_wake = sleep_mode.wake_seconds(opts, 2, True) + sleep_mode.reload_seconds(opts)
        self.assertAlmostEqual(l2_wake, sleep_mode.published_seconds("wake", 2, DEFAULT_WEIGHTS_GIB))
        self.assertAlmostEqual(l2_wake, 4.489, places=3)
        self.assertEqual(sleep_mode.wake_seconds(opts, 1, False), 0.0)  # the KV cache alone is only remapped

    def test_bigger_weights_take_longer(self) -> None:
        small, big = options("--enable-sleep-mode", "--sim-weights-gib", "8"), options("--enable-sleep-mode",
                                                                                        "--sim-weights-gib", "60")
        self.assertLess(sleep_mode.wake_seconds(small, 1, True), sleep_mode.wake_seconds(big, 1, True))
        self.assertLess(sleep_mode.reload_seconds(small), sleep_mode.reload_seconds(big))

    def test_the_flags_override_the_published_times(self) -> None:
        opts = options("--enable-sleep-mode", "--sim-sleep-seconds", "0.2", "--sim-wake-seconds", "0.3")
        self.assertEqual(sleep_mode.sleep_seconds(opts, 2), 0.2)
        self.assertEqual(sleep_mode.wake_seconds(opts, 1, True), 0.3)

    def test_without_sleep_mode_no_weights_move(self) -> None:
        off, on = options(), options("--enable-sleep-mode")
        self.assertLess(sleep_mode.sleep_seconds(off, 1), sleep_mode.sleep_seconds(on, 1))
        self.assertAlmostEqual(sleep_mode.sleep_seconds(off, 1), sleep_mode.published_seconds("sleep", 1, 0.0))

    def test_bad_values_are_refused(self) -> None:
        for flags in (["--sim-sleep-seconds", "-1"], ["--sim-wake-seconds", "x"], ["--sim-weights-gib", "-2"],
                      ["--sim-wake-fail", "0"], ["--sim-wake-fail", "1.5"]):
            with self.assertRaises(Exception, msg=flags):
                options(*flags)


class MemoryTest(unittest.TestCase):
    def test_awake_holds_the_utilization_share_of_the_gpu(self) -> None:
        mem = sleep_mode.memory(options("--enable-sleep-mode", "--gpu-memory-utilization", "0.8"), set(), False)
        self.assertEqual((mem.gpus, mem.gpu_bytes, mem.host_bytes), (1, int(H100 * 0.8), 0))
        self.assertEqual(mem.weights_bytes, int(DEFAULT_WEIGHTS_GIB * GIB))

    def test_level_1_keeps_the_residual_on_the_gpu_and_the_weights_in_host_ram(self) -> None:
        mem = sleep_mode.memory(options("--enable-sleep-mode", "--sim-weights-gib", "16"), {"weights", "kv_cache"},
                                True)
        self.assertEqual(mem.gpu_bytes, int(5.82 * GIB))
        self.assertEqual(mem.host_bytes, 16 * GIB)

    def test_level_2_holds_no_host_ram(self) -> None:
        mem = sleep_mode.memory(options("--enable-sleep-mode"), {"weights", "kv_cache"}, False)
        self.assertEqual((mem.gpu_bytes, mem.host_bytes), (int(5.82 * GIB), 0))

    def test_tensor_parallel_splits_the_weights_over_the_gpus(self) -> None:
        opts = options("--enable-sleep-mode", "--sim-weights-gib", "100", "--tensor-parallel-size", "2")
        asleep = sleep_mode.memory(opts, {"weights", "kv_cache"}, True)
        self.assertEqual((asleep.gpus, asleep.host_bytes), (2, 100 * GIB))
        weights_back = sleep_mode.memory(opts, {"kv_cache"}, False)
        self.assertEqual(weights_back.gpu_bytes, int(5.82 * GIB) + 50 * GIB)

    def test_without_sleep_mode_nothing_is_freed(self) -> None:
        opts = options()
        self.assertEqual(sleep_mode.memory(opts, {"weights", "kv_cache"}, False).gpu_bytes, int(H100 * 0.9))


class RecordingSink:
    def __init__(self) -> None:
        self.paused = False
        self.data = b""
        self.status: int | None = None
        self.ended = False

    def write(self, data: bytes) -> None:
        self.data += data

    def respond_json(self, status: int, body: bytes) -> None:
        self.status, self.data, self.ended = status, body, True

    def end_stream(self, data: bytes) -> None:
        self.data += data
        self.ended = True

    def abort(self) -> None:
        pass

    def finish_reasons(self) -> list[str]:
        if self.status is not None:
            return [c["finish_reason"] for c in json.loads(self.data)["choices"]]
        frames = [frame for chunk in self.data.split(b"\r\n") for frame in chunk.split(b"\n\n")
                  if frame.startswith(b"data: {")]
        return [c["finish_reason"] for frame in frames for c in json.loads(frame[6:])["choices"] if c["finish_reason"]]


class Harness:
    """An engine, its sleep mode and a simulated clock; every simulated wait also steps the engine."""

    def __init__(self, *flags: str, sleep_mode_on: bool = True) -> None:
        on = ["--enable-sleep-mode"] if sleep_mode_on else []
        self.opts = options(*on, "--enable-prompt-tokens-details", "--sim-prefill-tps", "0", *flags)
        self.metrics = EngineMetrics("test-model")
        self.engine = Engine(self.opts, self.metrics, lambda seq: None)
        self.now = 0.0
        self.waits: list[float] = []
        self.logs: list[str] = []
        self.mode = sleep_mode.SleepMode(self.opts, self.engine, self.metrics, self._sleep,
                                         lambda level, source, message: self.logs.append(f"{level} {message}"))

    async def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        self.run()
        await asyncio.sleep(0)

    def submit(self, prompt: list[int], max_tokens: int = 2, stream: bool = True) -> tuple[RecordingSink, Any]:
        sink = RecordingSink()
        body = {"model": "test-model", "prompt": prompt, "max_tokens": max_tokens, "ignore_eos": True,
                "stream": stream}
        seq = self.engine.submit(plan_reply(self.opts, body, "completion"), sink, "cmpl-x", 0)
        return sink, seq

    def run(self, steps: int = 10_000) -> None:
        """Steps the engine until it has nothing due now (every step takes no time with the zero latency knobs)."""
        for _ in range(steps):
            if self.engine.step(self.now) != 0.0:
                return

    def call(self, coro: Any) -> Any:
        return asyncio.run(coro)


class SleepModeTest(unittest.TestCase):
    """The state machine on a simulated clock (steps take no time)."""

    def setUp(self) -> None:
        self.h = Harness()

    def test_level_1_aborts_in_flight_requests_empties_the_cache_and_offloads_the_weights(self) -> None:
        h = self.h
        done, _ = h.submit(ids(0, 48))
        h.run()
        self.assertEqual(done.finish_reasons(), ["length"])
        self.assertEqual(len(h.engine.pool.refs), 3)  # its three full prompt blocks are cached
        running, seq = h.submit(ids(100, 48), max_tokens=1000)
        h.engine.step(h.now)  # admitted: prefill planned
        queued, _ = h.submit(ids(200, 48))
        h.call(h.mode.sleep(1, "abort"))
        self.assertEqual(running.finish_reasons(), ["abort"])
        self.assertTrue(running.data.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n"))
        self.assertEqual(queued.finish_reasons(), ["abort"])
        self.assertEqual(h.metrics.success["abort"], 2)
        self.assertEqual(h.engine.pool.refs, {})  # the prefix cache forgot everything
        self.assertEqual(h.waits, [close_to(sleep_mode.sleep_seconds(h.opts, 1))])
        self.assertTrue(h.mode.is_sleeping)
        self.assertEqual(h.metrics.sleep_gauges(), {"awake": 0, "weights_offloaded": 1, "discard_all": 0})
        self.assertEqual(h.mode.report()["host_bytes"], int(DEFAULT_WEIGHTS_GIB * GIB))
        self.assertIn("INFO It took 0.764777 seconds to fall asleep.", h.logs)
        self.assertIn("INFO Sleep mode freed 65.86 GiB memory, 5.82 GiB memory is still in use.", h.logs)

    def test_requests_sent_while_asleep_wait_and_run_after_the_wake_without_cache_hits(self) -> None:
        h = self.h
        first, _ = h.submit(ids(0, 48))
        h.run()
        h.call(h.mode.sleep(1, "abort"))
        later, seq = h.submit(ids(0, 48))
        h.run()
        self.assertEqual((later.data, len(h.engine.waiting)), (b"", 1))  # queued, not refused
        h.call(h.mode.wake_up(None))
        self.assertEqual(h.waits[-1], close_to(sleep_mode.wake_seconds(h.opts, 1, True)))
        h.run()
        self.assertEqual(later.finish_reasons(), ["length"])
        self.assertEqual(seq.plan.cached_tokens, 0)  # the cache was emptied by the sleep
        self.assertFalse(h.mode.is_sleeping)
        self.assertEqual(h.metrics.sleep_gauges(), {"awake": 1, "weights_offloaded": 0, "discard_all": 0})
        self.assertEqual((h.mode.sleeps, h.mode.wakes, h.mode.report()["host_bytes"]), (1, 1, 0))

    def test_mode_wait_lets_running_requests_finish_first(self) -> None:
        h = self.h
        running, _ = h.submit(ids(0, 20), max_tokens=5)
        h.engine.step(h.now)
        h.call(h.mode.sleep(1, "wait"))
        self.assertEqual(running.finish_reasons(), ["length"])
        self.assertEqual(h.metrics.success["abort"], 0)

    def test_mode_keep_preempts_running_requests_which_resume_after_the_wake(self) -> None:
        h = self.h
        running, seq = h.submit(ids(0, 20), max_tokens=5)
        h.engine.step(h.now)
        h.call(h.mode.sleep(1, "keep"))
        self.assertFalse(running.ended)
        self.assertIn(seq, h.engine.waiting)  # preempted: its KV is recomputed after the wake
        h.call(h.mode.wake_up(None))
        h.run()
        self.assertEqual(running.finish_reasons(), ["length"])
        self.assertEqual(h.metrics.success["abort"], 0)

    def test_level_0_only_pauses_scheduling(self) -> None:
        h = self.h
        h.submit(ids(0, 48))
        h.run()
        h.call(h.mode.sleep(0, "abort"))
        self.assertEqual((h.waits, h.engine.pause, len(h.engine.pool.refs)), ([], PAUSED_NEW, 3))
        self.assertTrue(h.mode.is_sleeping)
        self.assertEqual(h.metrics.sleep_gauges(), {"awake": 0, "weights_offloaded": 0, "discard_all": 0})
        h.call(h.mode.wake_up(["scheduling"]))
        self.assertEqual(h.engine.pause, UNPAUSED)

    def test_a_partial_wake_keeps_the_engine_asleep(self) -> None:
        h = self.h
        h.call(h.mode.sleep(1, "abort"))
        h.call(h.mode.wake_up(["weights"]))
        self.assertTrue(h.mode.is_sleeping)
        self.assertEqual(h.mode.report()["sleeping_tags"], ["kv_cache"])
        self.assertEqual(h.mode.memory().gpu_bytes, int(5.82 * GIB) + int(DEFAULT_WEIGHTS_GIB * GIB))
        # AsyncLLM.wake_up records "awake" whatever was woken.
        self.assertEqual(h.metrics.sleep_gauges()["awake"], 1)
        h.call(h.mode.wake_up(["kv_cache"]))
        self.assertEqual(h.waits[1:], [close_to(sleep_mode.wake_seconds(h.opts, 1, True)), 0.0])
        self.assertFalse(h.mode.is_sleeping)

    def test_repeated_calls_are_no_ops_with_vllms_warnings(self) -> None:
        h = self.h
        h.call(h.mode.wake_up(None))
        h.call(h.mode.sleep(1, "abort"))
        h.call(h.mode.sleep(2, "abort"))
        self.assertEqual(len(h.waits), 1)
        self.assertEqual(h.mode.report()["host_bytes"], int(DEFAULT_WEIGHTS_GIB * GIB))  # still level-1 memory
        # AsyncLLM.sleep records the level asked for, even when the executor was already asleep.
        self.assertEqual(h.metrics.sleep_gauges()["discard_all"], 1)
        h.call(h.mode.wake_up(["bogus"]))
        self.assertTrue(h.mode.is_sleeping)
        self.assertEqual([line for line in h.logs if line.startswith("WARNING")],
                         ["WARNING Executor is not sleeping.", "WARNING Executor is already sleeping.",
                          "WARNING Tag bogus is not in sleeping tags {'kv_cache', 'weights'}"])

    def test_level_2_forgets_the_weights_until_reload_weights(self) -> None:
        h = self.h
        h.call(h.mode.sleep(2, "abort"))
        self.assertEqual(h.mode.report()["host_bytes"], 0)
        with self.assertRaises(ApiError):
            h.call(h.mode.reload_weights())  # the weights' memory is not mapped yet
        h.call(h.mode.wake_up(None))
        self.assertFalse(h.mode.weights_valid)
        h.call(h.mode.reload_weights())
        self.assertTrue(h.mode.weights_valid)
        self.assertEqual(h.waits[-2:], [close_to(sleep_mode.wake_seconds(h.opts, 2, True)),
                                        close_to(sleep_mode.reload_seconds(h.opts))])

    def test_an_unknown_mode_fails_and_changes_nothing(self) -> None:
        h = self.h
        with self.assertRaises(ApiError) as caught:
            h.call(h.mode.sleep(1, "later"))
        self.assertEqual(caught.exception.status, 500)
        self.assertFalse(h.mode.is_sleeping)

    def test_the_nth_wake_fails_as_vllms_and_leaves_the_engine_asleep(self) -> None:
        h = Harness("--sim-wake-fail", "2")
        h.call(h.mode.sleep(1, "abort"))
        h.call(h.mode.wake_up(None))  # the first wake works
        h.call(h.mode.sleep(1, "abort"))
        queued, _ = h.submit(ids(0, 8))
        with self.assertRaises(ApiError) as caught:
            h.call(h.mode.wake_up(None))
        err = caught.exception
        self.assertEqual((err.status, err.body()["error"]["type"]), (500, "InternalServerError"))
        self.assertTrue(err.message.startswith(
            "Call to wake_up method failed: CUDA Error: out of memory at /workspace/csrc/cumem_allocator.cpp:62"))
        # Nothing was woken: still asleep at level 1, the weights in host RAM, the metric unchanged, the request queued.
        self.assertTrue(h.mode.is_sleeping)
        self.assertEqual(h.mode.report()["sleeping_tags"], ["kv_cache", "weights"])
        self.assertEqual(h.mode.report()["host_bytes"], int(DEFAULT_WEIGHTS_GIB * GIB))
        self.assertEqual(h.metrics.sleep_gauges(), {"awake": 0, "weights_offloaded": 1, "discard_all": 0})
        self.assertEqual((h.mode.wakes, queued.data), (1, b""))
        self.assertEqual(len(h.waits), 3)  # two sleeps and one wake took time; the failed wake none
        errors = [line for line in h.logs if line.startswith("ERROR")]
        self.assertEqual(len(errors), 1)
        self.assertTrue(errors[0].startswith("ERROR Invocation of wake_up method failed\nTraceback"))
        self.assertTrue(errors[0].endswith("RuntimeError: " + sleep_mode.WAKE_FAILURE))
        # Only the Nth: the next one wakes it, and the queued request runs.
        h.call(h.mode.wake_up(None))
        h.run()
        self.assertFalse(h.mode.is_sleeping)
        self.assertEqual(queued.finish_reasons(), ["length"])

    def test_without_sleep_mode_a_sleep_pauses_and_frees_nothing(self) -> None:
        h = Harness(sleep_mode_on=False)
        h.call(h.mode.sleep(2, "abort"))
        self.assertTrue(h.mode.is_sleeping)
        self.assertEqual((h.mode.memory().gpu_bytes, h.mode.report()["weights_valid"]), (int(H100 * 0.9), True))


def close_to(value: float) -> Any:
    """Equal within 1e-9, for lists compared with assertEqual."""

    class Approx(float):
        def __eq__(self, other: object) -> bool:
            return isinstance(other, float) and abs(other - value) < 1e-9

        __hash__ = float.__hash__

    return Approx(value)


class LogLinesTest(unittest.TestCase):
    def test_the_sleep_and_wake_lines_are_not_read_as_failures(self) -> None:
        parser = VllmLogParser()
        parser.feed("INFO:     Application startup complete.")
        lines = [
            "INFO 10-19 19:38:37 [block_pool.py:378] Successfully reset prefix cache",
            "INFO 10-19 19:39:19 [cumem.py:228] CuMemAllocator: sleep freed 83.04 GiB memory in total, of which "
            "75.16 GiB is backed up in CPU and the rest 7.88 GiB is discarded directly.",
            "INFO 10-19 19:39:20 [gpu_worker.py:117] Sleep mode freed 83.28 GiB memory, 5.82 GiB memory is still "
            "in use.",
            "INFO 10-19 19:39:20 [abstract.py:95] It took 43.073431 seconds to fall asleep.",
            "WARNING 10-19 19:40:00 [abstract.py:90] Executor is already sleeping.",
            "INFO 10-19 19:41:00 [api_router.py:50] wake up the engine with tags: None",
            "INFO 10-19 19:41:02 [abstract.py:120] It took 2.190000 seconds to wake up tags {'weights', 'kv_cache'}.",
        ]
        self.assertEqual([event for line in lines for event in parser.feed(line)], [])

    def test_a_failed_wake_is_not_read_as_a_failure_of_the_engine(self) -> None:
        # The engine core catches it and lives on (sleep.py's docstring): no lifecycle event.
        logs: list[str] = []
        h = Harness("--sim-wake-fail", "1")
        h.mode._log = lambda level, source, message: logs.append(f"{level} 12-07 08:00:00 [{source}] {message}")
        h.call(h.mode.sleep(1, "abort"))
        with self.assertRaises(ApiError):
            h.call(h.mode.wake_up(None))
        parser = VllmLogParser()
        parser.feed("INFO:     Application startup complete.")
        lines = [line for entry in logs for line in entry.split("\n")]
        self.assertIn("RuntimeError: " + sleep_mode.WAKE_FAILURE, lines)
        self.assertEqual([event for line in lines for event in parser.feed(line)], [])


def post(sim: Sim, path: str, body: Any = None, timeout: float = 20.0) -> tuple[int, bytes, float]:
    started = time.monotonic()
    status, _, data = sim.request("POST", path, body if body is not None else b"", timeout=timeout)
    return status, data, time.monotonic() - started


class HttpTest(unittest.TestCase):
    """Real HTTP against a simulator subprocess."""

    def test_without_dev_mode_the_routes_do_not_exist(self) -> None:
        with Sim("--enable-sleep-mode") as sim:
            for method, path in (("POST", "/sleep"), ("POST", "/wake_up"), ("GET", "/is_sleeping"),
                                 ("POST", "/collective_rpc")):
                self.assertEqual(sim.request(method, path, b"")[0], 404, path)
            status, memory = sim.json("GET", "/sim/memory")
            self.assertEqual((status, memory["state"], memory["gpu_bytes"]), (200, "awake", int(H100 * 0.9)))

    def test_a_malformed_dev_mode_variable_is_a_bad_config(self) -> None:
        sim = Sim(env=runtime_env({"VLLM_SERVER_DEV_MODE": "yes"}), wait_ready=False)
        try:
            self.assertEqual(sim.wait_exit(), 2)
            self.assertEqual(sim.wait_event("fatal")["reason"], "bad_config")
        finally:
            sim.stop()

    def test_sleep_and_wake_take_their_time_and_queue_requests_meanwhile(self) -> None:
        prompt = {"model": "test-model", "prompt": ids(0, 48), "max_tokens": 2}
        with Sim("--enable-sleep-mode", "--enable-prompt-tokens-details", "--sim-sleep-seconds", "0.3",
                 "--sim-wake-seconds", "0.4", env=DEV) as sim:
            self.assertEqual(sim.json("POST", "/v1/completions", prompt)[0], 200)
            status, body, took = post(sim, "/sleep?level=1")
            self.assertEqual((status, body), (200, b""))
            self.assertGreaterEqual(took, 0.3)
            self.assertEqual(sim.json("GET", "/is_sleeping"), (200, {"is_sleeping": True}))
            self.assertEqual(sim.request("GET", "/health")[0], 200)
            metrics = sim.metrics()
            self.assertEqual(metrics['vllm:engine_sleep_state{sleep_state="awake",model_name="test-model"}'], 0.0)
            self.assertEqual(
                metrics['vllm:engine_sleep_state{sleep_state="weights_offloaded",model_name="test-model"}'], 1.0)
            status, memory = sim.json("GET", "/sim/memory")
            self.assertEqual((memory["state"], memory["level"], memory["gpu_bytes"], memory["host_bytes"]),
                             ("asleep", 1, int(5.82 * GIB), int(DEFAULT_WEIGHTS_GIB * GIB)))
            result: dict[str, Any] = {}

            def ask() -> None:
                started = time.monotonic()
                result["reply"] = sim.json("POST", "/v1/completions", prompt)
                result["at"] = time.monotonic() - started

            asker = threading.Thread(target=ask)
            asker.start()
            time.sleep(0.3)
            self.assertEqual(sim.gauge("vllm:num_requests_waiting"), 1.0)
            self.assertNotIn("reply", result)
            status, _, took = post(sim, "/wake_up")
            self.assertGreaterEqual(took, 0.4)
            asker.join(10)
            status, reply = result["reply"]
            self.assertEqual(status, 200)
            self.assertGreaterEqual(result["at"], 0.7)
            self.assertEqual(reply["usage"]["prompt_tokens_details"], {"cached_tokens": 0})  # the cache was emptied
            self.assertEqual(sim.json("GET", "/is_sleeping"), (200, {"is_sleeping": False}))
        logs = "\n".join(sim.stderr_lines)
        self.assertIn("It took 0.300000 seconds to fall asleep.", logs)
        self.assertIn("It took 0.400000 seconds to wake up tags {'kv_cache', 'weights'}.", logs)

    def test_is_sleeping_during_a_sleep_answers_when_it_is_done(self) -> None:
        with Sim("--enable-sleep-mode", "--sim-sleep-seconds", "0.5", env=DEV) as sim:
            sleeper = threading.Thread(target=post, args=(sim, "/sleep?level=1"))
            sleeper.start()
            time.sleep(0.1)
            started = time.monotonic()
            self.assertEqual(sim.json("GET", "/is_sleeping"), (200, {"is_sleeping": True}))
            self.assertGreaterEqual(time.monotonic() - started, 0.3)
            sleeper.join(10)

    def test_a_stream_in_flight_ends_with_finish_reason_abort(self) -> None:
        with Sim("--enable-sleep-mode", "--sim-itl-ms", "20", "--sim-sleep-seconds", "0", env=DEV) as sim:
            stream = sim.open_stream({"model": "test-model", "messages": [{"role": "user", "content": "hi"}],
                                      "max_tokens": 500, "ignore_eos": True, "stream": True})
            self.assertIsNotNone(stream.next_frame())
            self.assertEqual(post(sim, "/sleep")[0], 200)
            frames = stream.frames()
            stream.close()
            self.assertEqual(frames[-1], "[DONE]")
            self.assertEqual(json.loads(frames[-2])["choices"][0]["finish_reason"], "abort")
            self.assertEqual(
                sim.metrics()['vllm:request_success_total{finished_reason="abort",model_name="test-model"}'], 1.0)

    def test_level_2_answers_nonsense_until_reload_weights(self) -> None:
        chat = {"model": "test-model", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 3}
        with Sim("--enable-sleep-mode", "--sim-sleep-seconds", "0", "--sim-wake-seconds", "0",
                 "--sim-weights-gib", "0.01", env=DEV) as sim:
            self.assertEqual(post(sim, "/sleep?level=2")[0], 200)
            self.assertEqual(sim.json("GET", "/sim/memory")[1]["host_bytes"], 0)
            self.assertEqual(post(sim, "/wake_up")[0], 200)
            status, reply = sim.json("POST", "/v1/chat/completions", chat)
            self.assertEqual(reply["choices"][0]["message"]["content"], "!!!")
            self.assertEqual(reply["choices"][0]["finish_reason"], "length")
            self.assertEqual(post(sim, "/collective_rpc", {"method": "reload_weights"})[:2],
                             (200, b'{"results":[null]}'))
            status, reply = sim.json("POST", "/v1/chat/completions", chat)
            self.assertEqual(reply["choices"][0]["message"]["content"], "hello there")
            self.assertEqual(post(sim, "/collective_rpc", {})[0], 400)
            self.assertEqual(post(sim, "/collective_rpc", {"method": "save_sharded_state"})[0], 500)

    def test_bad_query_values(self) -> None:
        with Sim("--enable-sleep-mode", env=DEV) as sim:
            self.assertEqual(post(sim, "/sleep?level=deep")[0], 500)  # int() fails, vLLM's catch-all answers
            self.assertEqual(post(sim, "/sleep?level=1&mode=later")[0], 500)
            self.assertEqual(post(sim, "/reset_prefix_cache?reset_running_requests=maybe")[0], 400)
            self.assertEqual(sim.json("GET", "/is_sleeping"), (200, {"is_sleeping": False}))

    def test_reset_prefix_cache(self) -> None:
        prompt = {"model": "test-model", "prompt": ids(0, 48), "max_tokens": 2}
        with Sim("--enable-prompt-tokens-details", env=DEV) as sim:
            sim.json("POST", "/v1/completions", prompt)
            status, body, _ = post(sim, "/reset_prefix_cache")
            self.assertEqual((status, json.loads(body)), (200, {"success": True}))
            status, reply = sim.json("POST", "/v1/completions", prompt)
            self.assertEqual(reply["usage"]["prompt_tokens_details"], {"cached_tokens": 0})

    def test_a_failed_wake_answers_500_in_vllms_shape_and_the_engine_lives_on(self) -> None:
        prompt = {"model": "test-model", "prompt": ids(0, 8), "max_tokens": 2}
        with Sim("--enable-sleep-mode", "--sim-sleep-seconds", "0", "--sim-wake-seconds", "0.2",
                 "--sim-wake-fail", "1", env=DEV) as sim:
            self.assertEqual(post(sim, "/sleep?level=1")[0], 200)
            result: dict[str, Any] = {}
            asker = threading.Thread(target=lambda: result.update(reply=sim.json("POST", "/v1/completions", prompt)))
            asker.start()
            status, body, took = post(sim, "/wake_up")
            self.assertEqual(status, 500)
            error = json.loads(body)["error"]
            self.assertEqual((error["type"], error["param"], error["code"]), ("InternalServerError", None, 500))
            self.assertTrue(error["message"].startswith("Call to wake_up method failed: CUDA Error: out of memory"))
            self.assertLess(took, 0.2)  # it failed before any remap time
            self.assertEqual(sim.request("GET", "/health")[0], 200)
            self.assertEqual(sim.json("GET", "/is_sleeping"), (200, {"is_sleeping": True}))
            self.assertEqual(sim.json("GET", "/sim/memory")[1]["state"], "asleep")
            self.assertEqual(sim.gauge("vllm:num_requests_waiting"), 1.0)
            self.assertNotIn("reply", result)
            self.assertEqual(post(sim, "/wake_up")[0], 200)  # only the first one fails
            asker.join(10)
            self.assertEqual(result["reply"][0], 200)
        self.assertIn("RuntimeError: " + sleep_mode.WAKE_FAILURE, sim.stderr_lines)

    def test_dev_mode_without_sleep_mode_sleeps_but_keeps_its_memory(self) -> None:
        with Sim("--sim-sleep-seconds", "0", env=DEV) as sim:
            self.assertEqual(post(sim, "/sleep?level=1")[0], 200)
            status, memory = sim.json("GET", "/sim/memory")
            self.assertEqual((memory["is_sleeping"], memory["gpu_bytes"], memory["host_bytes"]),
                             (True, int(H100 * 0.9), 0))


if __name__ == "__main__":
    unittest.main()

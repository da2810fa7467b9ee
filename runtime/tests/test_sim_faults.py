"""The simulator's fault knobs and its start/stop behaviour, seen from outside: lifecycle lines, HTTP, exit codes."""

from __future__ import annotations

import json
import signal
import socket
import time
import unittest

from .support import RuntimeProcess, Sim, chat, free_port, runtime_env, wait_until


class FaultKnobTest(unittest.TestCase):
    def test_crash_after_exits_mid_stream(self) -> None:
        with Sim("--sim-crash-after", "2", "--sim-itl-ms", "20") as sim:
            status, resp = sim.json("POST", "/v1/chat/completions", chat("first request"))
            self.assertEqual((status, resp["choices"][0]["message"]["content"]), (200, "first request"))
            stream = sim.open_stream(chat("second request is cut", stream=True))
            try:
                frames = stream.frames()
            finally:
                stream.close()
            self.assertGreaterEqual(len(frames), 1, "the crash comes after the stream started")
            self.assertNotIn("[DONE]", frames)
            self.assertTrue(all(json.loads(f)["choices"][0]["finish_reason"] is None for f in frames))
            self.assertEqual(sim.wait_exit(), 1)
            fatal = [e for e in sim.all_events if e["event"] == "fatal"]
            self.assertEqual([e["reason"] for e in fatal], ["engine_error"])
            self.assertIn("--sim-crash-after 2", fatal[0]["detail"])

    def test_crash_linger_answers_503_on_health_while_dead(self) -> None:
        with Sim("--sim-crash-after", "1", "--sim-crash-linger-seconds", "1.5") as sim:
            stream = sim.open_stream(chat("doomed request", stream=True))
            stream.frames()
            stream.close()
            status, _, _ = sim.request("GET", "/health")
            self.assertEqual(status, 503)
            status, body = sim.json("POST", "/v1/chat/completions", chat("after death"))
            self.assertEqual(status, 500)
            self.assertEqual(body["error"]["type"], "InternalServerError")
            self.assertEqual(sim.wait_exit(), 1)

    def test_hang_after_stops_tokens_but_health_stays_ok(self) -> None:
        with Sim("--sim-hang-after", "1") as sim:
            status, _ = sim.json("POST", "/v1/chat/completions", chat("fine"))
            self.assertEqual(status, 200)
            stream = sim.open_stream(chat("this one hangs", stream=True))
            try:
                self.assertEqual(stream.status, 200)
                with self.assertRaises(socket.timeout):
                    stream.next_frame(timeout=0.6)
                self.assertEqual(sim.request("GET", "/health")[0], 200)
                self.assertEqual(sim.gauge("vllm:num_requests_running"), 1)
            finally:
                stream.close()
            wait_until(lambda: sim.gauge("vllm:num_requests_running") == 0)

    def test_sigusr1_wedges_generation_while_health_stays_ok(self) -> None:
        with Sim("--sim-itl-ms", "200") as sim:
            stream = sim.open_stream(chat("one two three four five six seven eight nine ten", stream=True))
            try:
                self.assertIsNotNone(stream.next_frame(timeout=5))
                sim.proc.send_signal(signal.SIGUSR1)
                wait_until(lambda: any("wedged" in line for line in sim.stderr_lines))
                # The running stream gets no more tokens (at most one already on its way), nor does a new request.
                after: list[str | None] = []
                with self.assertRaises(socket.timeout):
                    for _ in range(20):
                        after.append(stream.next_frame(timeout=0.6))
                self.assertLessEqual(len(after), 1)
                self.assertNotIn("[DONE]", after)
                fresh = sim.open_stream(chat("after the wedge", stream=True))
                try:
                    with self.assertRaises(socket.timeout):
                        fresh.next_frame(timeout=0.6)
                finally:
                    fresh.close()
                self.assertEqual(sim.request("GET", "/health")[0], 200)
                self.assertIsNone(sim.proc.poll())
            finally:
                stream.close()

    def test_error_rate_fails_that_fraction_with_vllm_errors(self) -> None:
        with Sim("--sim-error-rate", "0.5") as sim:
            results = [sim.json("POST", "/v1/chat/completions", chat("hi"))for _ in range(6)]
        self.assertEqual([s for s, _ in results], [200, 500] * 3)
        error = results[1][1]["error"]
        self.assertEqual(set(error), {"message", "type", "param", "code"})
        self.assertEqual((error["type"], error["code"]), ("InternalServerError", 500))


class StartAndStopTest(unittest.TestCase):
    def test_slow_start_reports_progress_then_ready_when_health_is_200(self) -> None:
        sim = Sim("--sim-load-seconds", "0.8", wait_ready=False)
        try:
            self.assertEqual(sim.wait_event("starting")["engine"], "sim")
            first = sim.wait_event("loading")
            wait_until(lambda: _health(sim.port) is not None)
            self.assertEqual(_health(sim.port), 503)
            sim.wait_event("ready")
            self.assertEqual(_health(sim.port), 200)
            loading = [e for e in sim.all_events if e["event"] == "loading"]
            progress = [e["progress"] for e in loading]
            self.assertEqual(first["progress"], 0.0)
            self.assertGreaterEqual(len(loading), 4)
            self.assertEqual(progress, sorted(progress))
            self.assertEqual(progress[-1], 1.0)
            self.assertEqual([e["event"] for e in sim.all_events][0], "starting")
        finally:
            sim.stop()

    def test_fail_start_prints_progress_then_fatal_and_exits_1(self) -> None:
        for reason in ("cuda_oom", "gpu_memory_busy", "model_access", "injected"):
            with self.subTest(reason=reason):
                proc = RuntimeProcess(["--engine", "sim", "--port", str(free_port()), "--sim-load-seconds", "0.4",
                                       "--sim-fail-start", reason])
                try:
                    self.assertEqual(proc.wait_exit(), 1)
                finally:
                    proc.stop()
                kinds = [e["event"] for e in proc.all_events]
                self.assertEqual(kinds[0], "starting")
                self.assertEqual(kinds[-1], "fatal")
                self.assertGreaterEqual(kinds.count("loading"), 2)
                self.assertNotIn("ready", kinds)
                fatal = proc.all_events[-1]
                self.assertEqual(fatal["reason"], reason)
                self.assertTrue(fatal["detail"])
                self.assertTrue(fatal["hint"])

    def test_bad_flags_exit_2_with_a_clear_message(self) -> None:
        cases = [
            (["--sim-fail-start", "meteor"], "--sim-fail-start 'meteor' is not a fatal reason"),
            (["--max-num-seqs", "many"], "--max-num-seqs must be a whole number"),
            (["--max-model-lenn", "5"], "did you mean --max-model-len"),
            (["--definitely-not-a-flag"], "unknown flag --definitely-not-a-flag"),
            (["--max-num-seqs", "64", "--max-num-batched-tokens", "32"],
             "max_num_batched_tokens (32) must be greater than or equal to max_num_seqs (64)."),
        ]
        for flags, message in cases:
            with self.subTest(flags=flags):
                proc = RuntimeProcess(["--engine", "sim", "--port", str(free_port()), *flags])
                try:
                    self.assertEqual(proc.wait_exit(), 2)
                finally:
                    proc.stop()
                self.assertIn(message, "\n".join(proc.stderr_lines))
                self.assertEqual(proc.all_events[-1]["reason"], "bad_config")

    def test_accepts_every_flag_the_command_builder_emits_and_other_vllm_flags(self) -> None:
        flags = ["--tensor-parallel-size", "1", "--pipeline-parallel-size", "1", "--max-model-len", "4k",
                 "--max-num-batched-tokens", "8192", "--max-num-seqs", "16", "--gpu-memory-utilization", "0.97",
                 "--quantization", "bitsandbytes", "--download-dir", "/tmp/models", "--distributed-executor-backend",
                 "ray", "--disable-uvicorn-access-log", "--trust-remote-code", "--no-enable-prefix-caching",
                 "--dtype=bfloat16", "-tp", "1", "--sim-ttft-ms", "0", "--sim-itl-ms", "0", "--sim-load-seconds", "0",
                 "--sim-error-rate", "0", "--sim-mode", "echo"]
        with Sim(*flags) as sim:
            status, body = sim.json("GET", "/v1/models")
        self.assertEqual((status, body["data"][0]["max_model_len"]), (200, 4000))

    def test_engine_comes_from_the_environment_and_the_flag_wins(self) -> None:
        port = free_port()
        proc = RuntimeProcess(["--port", str(port)], env=runtime_env({"LLM_RUNTIME_ENGINE": "sim"}))
        try:
            self.assertEqual(proc.wait_event("starting")["engine"], "sim")
            proc.wait_event("ready")
        finally:
            proc.stop()
        proc = RuntimeProcess(["--engine", "sim", "--port", str(free_port())],
                              env=runtime_env({"LLM_RUNTIME_ENGINE": "vllm"}))
        try:
            self.assertEqual(proc.wait_event("starting")["engine"], "sim")
        finally:
            proc.stop()
        proc = RuntimeProcess(["--port", "1"])
        try:
            self.assertEqual(proc.wait_exit(), 2)
        finally:
            proc.stop()
        self.assertIn("LLM_RUNTIME_ENGINE", "\n".join(proc.stderr_lines))

    def test_sigterm_exits_0_quickly_even_mid_stream(self) -> None:
        with Sim("--sim-itl-ms", "100") as sim:
            stream = sim.open_stream(chat("a b c d e f g h i j", stream=True))
            try:
                self.assertIsNotNone(stream.next_frame())
                started = time.monotonic()
                sim.proc.send_signal(signal.SIGTERM)
                self.assertEqual(sim.wait_exit(timeout=5), 0)
                self.assertLess(time.monotonic() - started, 2.0)
            finally:
                stream.close()

    # vLLM >= 0.18 --shutdown-timeout N (vllm-project/vllm#36666): on SIGTERM new requests get 503 (vLLM's
    # ServiceUnavailableMiddleware body), in-flight ones finish for up to N s, then the server exits.
    def test_shutdown_timeout_finishes_an_in_flight_stream_and_refuses_new_work(self) -> None:
        with Sim("--sim-itl-ms", "100", "--shutdown-timeout", "10") as sim:
            stream = sim.open_stream(chat("a b c d e f g h i j", stream=True))
            try:
                self.assertIsNotNone(stream.next_frame())
                sim.proc.send_signal(signal.SIGTERM)
                wait_until(lambda: any("refusing new requests" in line for line in sim.stderr_lines))
                status, body = sim.json("POST", "/v1/chat/completions", chat("late"))
                self.assertEqual((status, body), (503, {"error": "Server is unavailable. Please try again later."}))
                self.assertEqual(sim.request("GET", "/health")[0], 503)
                frames = stream.frames(timeout=10)
                self.assertEqual(frames[-1], "[DONE]")
                text = "".join(json.loads(f)["choices"][0]["delta"].get("content", "") for f in frames[:-1]
                               if json.loads(f)["choices"])
                self.assertIn("j", text)
                self.assertEqual(sim.wait_exit(timeout=5), 0)
            finally:
                stream.close()
        self.assertIn("finishing 1 in-flight request(s) for up to 10 s", "\n".join(sim.stderr_lines))

    def test_shutdown_timeout_aborts_what_is_left_when_it_runs_out(self) -> None:
        with Sim("--sim-itl-ms", "500", "--shutdown-timeout", "1") as sim:
            stream = sim.open_stream(chat("a b c d e f g h i j", stream=True))
            try:
                self.assertIsNotNone(stream.next_frame())
                started = time.monotonic()
                sim.proc.send_signal(signal.SIGTERM)
                self.assertEqual(sim.wait_exit(timeout=5), 0)
                self.assertGreater(time.monotonic() - started, 0.9)
                self.assertNotIn("[DONE]", stream.frames(timeout=2))
            finally:
                stream.close()
        self.assertIn("aborting 1 request(s)", "\n".join(sim.stderr_lines))

    def test_bad_shutdown_timeout_is_a_usage_error(self) -> None:
        proc = RuntimeProcess(["--engine", "sim", "--shutdown-timeout", "-1"])
        try:
            self.assertEqual(proc.wait_exit(), 2)
        finally:
            proc.stop()
        self.assertIn("--shutdown-timeout must be at least 0, got -1", "\n".join(proc.stderr_lines))

    def test_port_in_use_is_a_fatal_start(self) -> None:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            proc = RuntimeProcess(["--engine", "sim", "--host", "127.0.0.1", "--port", str(port)])
            try:
                self.assertEqual(proc.wait_exit(), 1)
            finally:
                proc.stop()
        fatal = proc.all_events[-1]
        self.assertEqual(fatal["event"], "fatal")
        self.assertIn(str(port), fatal["detail"])

    def test_api_key_flag_and_key_never_printed(self) -> None:
        with Sim("--api-key", "flag-key-123") as sim:
            self.assertEqual(sim.json("GET", "/v1/models")[0], 401)
            self.assertEqual(sim.json("GET", "/v1/models", headers={"authorization": "Bearer flag-key-123"})[0], 200)
            sim.stop()
            output = "\n".join(sim.stdout_lines + sim.stderr_lines)
        self.assertNotIn("flag-key-123", output)


def _health(port: int) -> int | None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


if __name__ == "__main__":
    unittest.main()

"""`--engine vllm` with a fake `vllm` (and a fake `nvidia-smi`) on PATH: preflight, output relay, lifecycle events,
exit codes and signal forwarding."""

from __future__ import annotations

import http.server
import json
import os
import signal
import stat
import sys
import tempfile
import textwrap
import threading
import time
import unittest

from .support import FIXTURES, RUNTIME_DIR, RuntimeProcess, free_port, runtime_env, wait_until

FAKE_VLLM = textwrap.dedent(f"""\
    #!{sys.executable}
    # A stand-in for `vllm`: records its argv, replays a log (skipping # header lines), then exits or waits.
    import os, signal, sys, time
    with open(os.environ["FAKE_VLLM_ARGV_FILE"], "w") as f:
        f.write("\\n".join(sys.argv[1:]))
    out = sys.stderr if os.environ.get("FAKE_VLLM_STDERR") else sys.stdout
    def on_term(signum, frame):
        print("fake vllm: got signal", signum, flush=True)
        sys.exit(int(os.environ.get("FAKE_VLLM_TERM_EXIT", "0")))
    signal.signal(signal.SIGTERM, on_term)
    with open(os.environ["FAKE_VLLM_LOG"], newline="") as f:
        for line in f:
            if not line.startswith("#"):
                out.write(line)
                out.flush()
    if os.environ.get("FAKE_VLLM_WAIT"):
        while True:
            time.sleep(0.05)
    sys.exit(int(os.environ.get("FAKE_VLLM_EXIT", "0")))
""")
FAKE_SMI = "#!/bin/sh\nprintf 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)\\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\\n'\n"
ARGS = ["meta-llama/Meta-Llama-3.1-8B-Instruct", "--served-model-name", "llama", "--host", "127.0.0.1", "--port",
        "8011", "--tensor-parallel-size", "1", "--pipeline-parallel-size", "1", "--max-model-len", "8192",
        "--max-num-batched-tokens", "8192", "--max-num-seqs", "128", "--gpu-memory-utilization", "0.97",
        "--disable-uvicorn-access-log"]


class VllmLauncherTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.bin = os.path.join(self.tmp.name, "bin")
        os.mkdir(self.bin)
        self._script("vllm", FAKE_VLLM)
        self._script("nvidia-smi", FAKE_SMI)
        self.argv_file = os.path.join(self.tmp.name, "argv")

    def _script(self, name: str, text: str) -> None:
        path = os.path.join(self.bin, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)

    def launch(self, args: list[str], log: str, **env: str) -> RuntimeProcess:
        log_path = log if os.path.isabs(log) else os.path.join(FIXTURES, "logs", log)
        extra = {"PATH": self.bin + os.pathsep + os.environ.get("PATH", ""), "FAKE_VLLM_LOG": log_path,
                 "FAKE_VLLM_ARGV_FILE": self.argv_file, **env}
        proc = RuntimeProcess(["--engine", "vllm", *args], env=runtime_env(extra))
        self.addCleanup(proc.stop)
        return proc

    def test_good_start_relays_output_and_reports_progress_then_ready(self) -> None:
        proc = self.launch(ARGS, "startup-ok-tp1.log", FAKE_VLLM_WAIT="1")
        proc.wait_event("ready")
        last = "(APIServer pid=4100) INFO:     Application startup complete."  # the log's last line
        wait_until(lambda: last in proc.stdout_lines, timeout=15)
        proc.proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait_exit(), 0)
        with open(self.argv_file) as f:
            self.assertEqual(f.read().split("\n"), ["serve", *ARGS])
        kinds = [e["event"] for e in proc.all_events]
        self.assertEqual(kinds[0], "starting")
        self.assertEqual(proc.all_events[0]["engine"], "vllm")
        self.assertEqual(kinds[-1], "ready")
        # The fake nvidia-smi lists 2 GPUs; on a machine with NVML, NVML's own count wins.
        self.assertRegex(proc.all_events[1]["detail"], r"\d+ GPU\(s\) visible")
        progress = [e["progress"] for e in proc.all_events if e["event"] == "loading"
                    and e["detail"].startswith("Loading safetensors")]
        self.assertEqual(progress, [0.0, 0.25, 0.5, 0.75, 1.0])
        self.assertIn("(APIServer pid=4100) INFO:     Application startup complete.", proc.stdout_lines)
        self.assertEqual(sum("checkpoint shards: 100%" in line for line in proc.stdout_lines), 2, "relayed verbatim")

    def test_fatal_start_on_stderr_gives_one_fatal_with_the_root_cause_and_the_exit_code(self) -> None:
        proc = self.launch(ARGS, "oom-weights.log", FAKE_VLLM_STDERR="1", FAKE_VLLM_EXIT="1")
        self.assertEqual(proc.wait_exit(), 1)
        fatal = [e for e in proc.all_events if e["event"] == "fatal"]
        self.assertEqual(len(fatal), 1)
        self.assertEqual(fatal[0]["reason"], "cuda_oom")
        self.assertTrue(fatal[0]["detail"].startswith("torch.OutOfMemoryError: CUDA out of memory."))
        self.assertTrue(any("Engine core initialization failed" in line for line in proc.stderr_lines))

    def test_an_exit_with_code_0_nobody_asked_for_is_fatal(self) -> None:
        # Reported for vLLM after EngineDeadError: the API server shuts down cleanly and exits 0 (issue 17, case 3).
        proc = self.launch(ARGS, "startup-ok-tp1.log", FAKE_VLLM_EXIT="0")
        self.assertEqual(proc.wait_exit(), 0)
        kinds = [e["event"] for e in proc.all_events]
        self.assertEqual(kinds[-2:], ["ready", "fatal"])
        fatal = proc.all_events[-1]
        self.assertEqual(fatal["reason"], "engine_error")
        self.assertIn("vLLM died while serving (exited with code 0, not asked to stop)", fatal["detail"])

    def test_exit_code_is_passed_through(self) -> None:
        proc = self.launch(ARGS, "gated-repo-401.log", FAKE_VLLM_EXIT="3")
        self.assertEqual(proc.wait_exit(), 3)
        self.assertEqual(proc.all_events[-1]["reason"], "model_access")

    def test_sigterm_is_forwarded_and_the_child_exit_code_returned(self) -> None:
        proc = self.launch(ARGS, "startup-ok-tp2-workers.log", FAKE_VLLM_WAIT="1", FAKE_VLLM_TERM_EXIT="0")
        proc.wait_event("ready")
        proc.proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait_exit(), 0)
        self.assertIn(f"fake vllm: got signal {int(signal.SIGTERM)}", proc.stdout_lines)
        self.assertNotIn("fatal", [e["event"] for e in proc.all_events])

    def test_sigint_is_forwarded_too(self) -> None:
        proc = self.launch(ARGS, "startup-ok-tp1.log", FAKE_VLLM_WAIT="1")
        proc.wait_event("ready")
        proc.proc.send_signal(signal.SIGINT)
        # The fake does not handle SIGINT, so it dies of it: 128 + 2, like a shell reports.
        self.assertEqual(proc.wait_exit(), 128 + int(signal.SIGINT))

    def test_carriage_return_progress_lines_are_split(self) -> None:
        log = os.path.join(self.tmp.name, "tqdm.log")
        with open(log, "w", newline="") as f:
            f.write("Loading safetensors checkpoint shards:  50% Completed | 1/2 [00:01<00:01]\r"
                    "Loading safetensors checkpoint shards: 100% Completed | 2/2 [00:02<00:00]\n"
                    "(APIServer pid=1) INFO:     Application startup complete.\n")
        proc = self.launch(ARGS, log)
        self.assertEqual(proc.wait_exit(), 0)
        self.assertEqual([e.get("progress") for e in proc.all_events if e["event"] == "loading"][-2:], [0.5, 1.0])

    def test_preflight_model_folder(self) -> None:
        missing = os.path.join(self.tmp.name, "no-such-model")
        empty = os.path.join(self.tmp.name, "empty")
        broken = os.path.join(self.tmp.name, "broken")
        good = os.path.join(self.tmp.name, "good")
        for folder in (empty, broken, good):
            os.mkdir(folder)
        with open(os.path.join(broken, "config.json"), "w") as f:
            f.write("{oops")
        with open(os.path.join(good, "config.json"), "w") as f:
            json.dump({"num_attention_heads": 32}, f)
        cases = [(missing, "model_not_found", "does not exist"), (empty, "model_not_found", "has no config.json"),
                 (broken, "bad_config", "cannot read")]
        for folder, reason, fragment in cases:
            with self.subTest(folder=os.path.basename(folder)):
                proc = self.launch([folder, *ARGS[1:]], "startup-ok-tp1.log")
                self.assertEqual(proc.wait_exit(), 1)
                fatal = proc.all_events[-1]
                self.assertEqual((fatal["event"], fatal["reason"]), ("fatal", reason))
                self.assertIn(fragment, fatal["detail"])
                self.assertFalse(os.path.exists(self.argv_file), "vllm must not start after a failed preflight")
        proc = self.launch([good, *ARGS[1:]], "startup-ok-tp1.log", FAKE_VLLM_WAIT="1")
        proc.wait_event("ready")
        self.assertTrue(os.path.exists(self.argv_file), "vllm starts after a good preflight")

    def test_preflight_gpus(self) -> None:
        proc = self.launch(ARGS, "startup-ok-tp1.log", CUDA_VISIBLE_DEVICES="")
        self.assertEqual(proc.wait_exit(), 1)
        self.assertEqual(proc.all_events[-1]["reason"], "no_gpu")
        too_many = [a if a != "1" or ARGS[i - 1] != "--tensor-parallel-size" else "64" for i, a in enumerate(ARGS)]
        proc = self.launch(too_many, "startup-ok-tp1.log")
        self.assertEqual(proc.wait_exit(), 1)
        fatal = proc.all_events[-1]
        self.assertEqual(fatal["reason"], "bad_config")
        self.assertIn("needs 64 GPUs", fatal["detail"])
        proc = self.launch([*too_many, "--distributed-executor-backend", "ray"], "startup-ok-tp1.log")
        self.assertEqual(proc.wait_exit(), 0, "a Ray cluster may hold the other GPUs")

    def test_bad_command_lines(self) -> None:
        proc = self.launch([*ARGS, "--sim-ttft-ms", "5"], "startup-ok-tp1.log")
        self.assertEqual(proc.wait_exit(), 2)
        self.assertIn("use --engine sim", proc.all_events[-1]["detail"])
        proc = self.launch([*ARGS, "--no-such-flag"], "startup-ok-tp1.log")
        self.assertEqual(proc.wait_exit(), 2)
        self.assertEqual(proc.all_events[-1]["reason"], "bad_config")

    def test_missing_vllm_executable(self) -> None:
        os.remove(os.path.join(self.bin, "vllm"))
        proc = self.launch(ARGS, "startup-ok-tp1.log", PATH=self.bin)
        self.assertEqual(proc.wait_exit(), 1)
        self.assertEqual(proc.all_events[-1]["reason"], "engine_error")
        self.assertIn("not on PATH", proc.all_events[-1]["detail"])


class OldVllmDrainTest(unittest.TestCase):
    """--shutdown-timeout exists from vLLM 0.18 on (vllm-project/vllm#36666); an older vLLM refuses it and aborts its
    requests on SIGTERM, so the runtime drops the flag and holds the signal until /metrics shows none in flight."""

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
        self.argv_file = os.path.join(self.tmp.name, "argv")
        self.in_flight = 1
        self.port = free_port()
        test = self

        class Metrics(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = (f'vllm:num_requests_running{{model_name="llama",engine="0"}} {float(test.in_flight)}\n'
                        'vllm:num_requests_waiting{model_name="llama",engine="0"} 0.0\n').encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Metrics)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)

    def launch(self, version: str | None) -> RuntimeProcess:
        site = tempfile.mkdtemp(dir=self.tmp.name)
        if version:
            info = os.path.join(site, f"vllm-{version}.dist-info")
            os.makedirs(info)
            with open(os.path.join(info, "METADATA"), "w") as f:
                f.write(f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n")
        args = [a if a != "8011" else str(self.port) for a in ARGS] + ["--shutdown-timeout", "31"]
        env = runtime_env({"PATH": self.bin + os.pathsep + os.environ.get("PATH", ""),
                           "PYTHONPATH": RUNTIME_DIR + os.pathsep + site, "FAKE_VLLM_ARGV_FILE": self.argv_file,
                           "FAKE_VLLM_LOG": os.path.join(FIXTURES, "logs", "startup-ok-tp1.log"),
                           "FAKE_VLLM_WAIT": "1"})
        proc = RuntimeProcess(["--engine", "vllm", *args], env=env)
        self.addCleanup(proc.stop)
        proc.wait_event("ready")
        return proc

    def argv(self) -> list[str]:
        with open(self.argv_file) as f:
            return f.read().split("\n")

    def test_an_older_vllm_gets_no_flag_and_its_requests_finish_before_it_sees_sigterm(self) -> None:
        proc = self.launch("0.11.0")
        self.assertNotIn("--shutdown-timeout", self.argv())
        self.assertIn("vLLM 0.11.0 has no --shutdown-timeout (0.18+)", "\n".join(proc.stderr_lines))
        proc.proc.send_signal(signal.SIGTERM)
        time.sleep(0.8)
        self.assertNotIn("fake vllm: got signal 15", proc.stdout_lines, "held while a request is in flight")
        self.in_flight = 0
        self.assertEqual(proc.wait_exit(timeout=10), 0)
        self.assertIn("fake vllm: got signal 15", proc.stdout_lines)

    def test_a_current_or_unknown_vllm_gets_the_flag_and_sigterm_at_once(self) -> None:
        for version in ("0.33.0", None):
            with self.subTest(version=version):
                proc = self.launch(version)
                self.assertEqual(self.argv()[-2:], ["--shutdown-timeout", "31"])
                proc.proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait_exit(timeout=5), 0)
                self.assertIn("fake vllm: got signal 15", proc.stdout_lines)


if __name__ == "__main__":
    unittest.main()

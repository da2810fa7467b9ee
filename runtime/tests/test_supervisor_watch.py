"""The runtime stops its engine when the runner that supervises it is gone (supervisor_watch.py): its parent died
(process driver) or its lease file went stale (docker driver)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

from llm_runtime import supervisor_watch
from llm_runtime.serve_args import UsageError

from .support import REPO_DIR, RuntimeProcess, Sim, free_port, runtime_env, wait_until

# Runs the runtime as its child with LLM_RUNTIME_SUPERVISOR_PID set to itself, as the process driver does, and
# relays the child's stdout; the test kills it with SIGKILL like a `kill -9` of the runner.
FAKE_RUNNER = textwrap.dedent("""\
    import os, subprocess, sys
    env = dict(os.environ, LLM_RUNTIME_SUPERVISOR_PID=str(os.getpid()))
    child = subprocess.Popen([sys.executable, "-m", "llm_runtime", *sys.argv[1:]], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    print("child", child.pid, flush=True)
    for line in child.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
""")
# A `vllm` that starts a worker in its own process group and leaves it behind when it gets SIGTERM (the default
# action): only a signal to the whole group ends the worker.
FAKE_VLLM = textwrap.dedent(f"""\
    #!{sys.executable}
    import os, subprocess, time
    worker = subprocess.Popen(["sleep", "300"])
    with open(os.environ["FAKE_VLLM_PIDS"], "w") as f:
        f.write(f"{{os.getpid()}} {{worker.pid}}")
    print("INFO:     Application startup complete.", flush=True)
    while True:
        time.sleep(0.05)
""")
FAKE_SMI = "#!/bin/sh\nprintf 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)\\n'\n"


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by init, not by us)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class ChecksTest(unittest.TestCase):
    def test_parent_check_is_gone_once_the_runtime_is_reparented(self) -> None:
        ppid = [4242]
        check = supervisor_watch.parent_check(4242, getppid=lambda: ppid[0])
        self.assertIsNone(check())
        ppid[0] = 1
        self.assertEqual(check(), "the runner (pid 4242) is gone")

    def test_parent_check_watches_the_pid_itself_behind_a_wrapper(self) -> None:
        alive = [True]
        check = supervisor_watch.parent_check(4242, getppid=lambda: 777, alive=lambda _pid: alive[0])
        self.assertIsNone(check())
        alive[0] = False
        self.assertEqual(check(), "the runner (pid 4242) is gone")

    def test_lease_is_stale_when_its_mtime_stops_changing_for_the_timeout(self) -> None:
        mtime = [100]
        now = [0.0]
        check = supervisor_watch.lease_check("/lease", 10, mtime=lambda _p: mtime[0], monotonic=lambda: now[0])
        assert check is not None
        for step in range(1, 6):  # renewed every 4 s for 20 s: never stale
            now[0] = step * 4.0
            mtime[0] += 1
            self.assertIsNone(check())
        now[0] = 30.0
        self.assertIsNone(check())  # 10 s since the last renewal: not yet beyond the timeout
        now[0] = 30.5
        self.assertEqual(check(), "the runner's lease /lease was not renewed for 10 s")

    def test_a_lease_that_goes_away_is_stale_after_the_timeout(self) -> None:
        now = [0.0]
        mtime: list[int | None] = [100]
        check = supervisor_watch.lease_check("/lease", 5, mtime=lambda _p: mtime[0], monotonic=lambda: now[0])
        assert check is not None
        mtime[0] = None
        now[0] = 4.0
        self.assertIsNone(check())
        now[0] = 6.0
        self.assertIsNotNone(check())

    def test_a_lease_unreadable_from_the_start_is_not_watched(self) -> None:
        self.assertIsNone(supervisor_watch.lease_check("/missing", 5, mtime=lambda _p: None))
        self.assertEqual(supervisor_watch.checks_from_env({"LLM_RUNTIME_LEASE_FILE": "/nonexistent/lease"}), [])

    def test_no_variables_no_watch_and_bad_values_are_refused(self) -> None:
        self.assertEqual(supervisor_watch.checks_from_env({}), [])
        for env in ({"LLM_RUNTIME_SUPERVISOR_PID": "abc"}, {"LLM_RUNTIME_SUPERVISOR_PID": "1"},
                    {"LLM_RUNTIME_LEASE_FILE": "/l", "LLM_RUNTIME_LEASE_TIMEOUT": "0"},
                    {"LLM_RUNTIME_LEASE_FILE": "/l", "LLM_RUNTIME_LEASE_TIMEOUT": "soon"}):
            with self.subTest(env=env), self.assertRaises(UsageError):
                supervisor_watch.checks_from_env(env)

    def test_a_bad_value_ends_the_runtime_with_bad_config(self) -> None:
        proc = RuntimeProcess(["--engine", "sim", "m", "--port", str(free_port())],
                              env=runtime_env({"LLM_RUNTIME_SUPERVISOR_PID": "abc"}))
        self.addCleanup(proc.stop)
        fatal = proc.wait_event("fatal")
        self.assertEqual(fatal["reason"], "bad_config")
        self.assertIn("LLM_RUNTIME_SUPERVISOR_PID='abc' is not a process id", fatal["detail"])
        self.assertEqual(proc.wait_exit(), 2)


class ContractTest(unittest.TestCase):
    def test_the_variable_names_match_the_drivers(self) -> None:
        with open(os.path.join(REPO_DIR, "src", "protocol", "supervisor-watch.ts"), encoding="utf-8") as f:
            source = f.read()
        for name in ("SUPERVISOR_PID_ENV", "LEASE_FILE_ENV", "LEASE_TIMEOUT_ENV"):
            self.assertIn(f'export const {name} = "{getattr(supervisor_watch, name)}";', source)


class RunnerGoneTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def fake_runner(self, args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
        script = os.path.join(self.tmp.name, "runner.py")
        with open(script, "w") as f:
            f.write(FAKE_RUNNER)
        runner = subprocess.Popen([sys.executable, script, *args], env=runtime_env(env), stdout=subprocess.PIPE,
                                  text=True)
        self.addCleanup(runner.wait)
        self.addCleanup(lambda: runner.stdout and runner.stdout.close())
        self.addCleanup(lambda: runner.poll() is None and runner.kill())
        assert runner.stdout is not None
        first = runner.stdout.readline().split()
        child = int(first[1])
        self.addCleanup(lambda: running(child) and os.killpg(child, signal.SIGKILL))
        for line in runner.stdout:
            if '"event": "ready"' in line or '"event":"ready"' in line:
                break
        return runner, child

    def test_the_simulator_exits_within_seconds_of_a_kill_9_of_its_runner(self) -> None:
        runner, sim = self.fake_runner(["--engine", "sim", "m", "--host", "127.0.0.1", "--port", str(free_port())],
                                       {})
        time.sleep(1.0)
        self.assertTrue(running(sim), "the simulator runs while its runner does")
        runner.kill()
        killed = time.monotonic()
        wait_until(lambda: not running(sim), timeout=5)
        self.assertLess(time.monotonic() - killed, 5)

    def test_the_vllm_launcher_stops_vllms_whole_process_group_when_its_runner_is_killed(self) -> None:
        bin_dir = os.path.join(self.tmp.name, "bin")
        os.mkdir(bin_dir)
        for name, text in (("vllm", FAKE_VLLM), ("nvidia-smi", FAKE_SMI)):
            path = os.path.join(bin_dir, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
        pids_file = os.path.join(self.tmp.name, "pids")
        env = {"PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "FAKE_VLLM_PIDS": pids_file}
        runner, launcher = self.fake_runner(["--engine", "vllm", "org/model", "--port", str(free_port())], env)
        wait_until(lambda: os.path.exists(pids_file) and os.path.getsize(pids_file) > 0, timeout=10)
        with open(pids_file) as f:
            vllm, worker = (int(p) for p in f.read().split())
        for pid in (vllm, worker):
            self.addCleanup(lambda pid=pid: running(pid) and os.kill(pid, signal.SIGKILL))
        self.assertTrue(running(worker))
        runner.kill()
        wait_until(lambda: not (running(launcher) or running(vllm) or running(worker)), timeout=5)


class LeaseTest(unittest.TestCase):
    def test_the_simulator_runs_while_its_lease_is_renewed_and_stops_once_it_goes_stale(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        lease = os.path.join(tmp.name, "lease")
        open(lease, "w").close()
        renewing = threading.Event()
        renewing.set()

        def renew() -> None:
            while renewing.is_set():
                os.utime(lease)
                time.sleep(0.2)

        renewer = threading.Thread(target=renew, daemon=True)
        renewer.start()
        self.addCleanup(renewing.clear)
        sim = Sim(env=runtime_env({"LLM_RUNTIME_LEASE_FILE": lease, "LLM_RUNTIME_LEASE_TIMEOUT": "1.5"}))
        self.addCleanup(sim.stop)
        time.sleep(3.0)
        self.assertIsNone(sim.proc.poll(), "a renewed lease keeps the engine running")
        renewing.clear()
        stopped = time.monotonic()
        self.assertEqual(sim.wait_exit(timeout=6), 0)  # a graceful stop, as on SIGTERM
        self.assertGreaterEqual(time.monotonic() - stopped, 1.2)  # the last renewal was up to 0.2 s earlier
        wait_until(lambda: any("was not renewed" in line for line in sim.stderr_lines), timeout=5)


if __name__ == "__main__":
    unittest.main()

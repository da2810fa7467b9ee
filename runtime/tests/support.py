"""Test helpers: start the runtime as a real subprocess on a free 127.0.0.1 port and talk HTTP to it."""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_DIR = os.path.dirname(RUNTIME_DIR)
FIXTURES = os.path.join(REPO_DIR, "test", "fixtures", "vllm")
LIFECYCLE_PREFIX = '{"llm_runtime"'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def runtime_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VLLM_API_KEY", "LLM_RUNTIME_ENGINE")}
    env["PYTHONPATH"] = RUNTIME_DIR
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class RuntimeProcess:
    """`python3 -m llm_runtime ...` with its stdout split into lifecycle events and other lines."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "llm_runtime", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env or runtime_env(), text=True)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.all_events: list[dict[str, Any]] = []
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout_lines.append(line.rstrip("\n"))
            if line.startswith(LIFECYCLE_PREFIX):
                event = json.loads(line)["llm_runtime"]
                self.all_events.append(event)
                self.events.put(event)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip("\n"))

    def wait_event(self, name: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {name!r} event within {timeout}s; got {self.all_events}; "
                                     f"stderr: {self.stderr_lines[-5:]}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event["event"] == name:
                return event

    def wait_exit(self, timeout: float = 15.0) -> int:
        code = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=5)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class Sim(RuntimeProcess):
    def __init__(self, *flags: str, model: str = "sim-model", env: dict[str, str] | None = None,
                 wait_ready: bool = True) -> None:
        self.port = free_port()
        super().__init__(["--engine", "sim", model, "--served-model-name", "test-model", "--host", "127.0.0.1",
                          "--port", str(self.port), *flags], env)
        if wait_ready:
            try:
                self.wait_event("ready")
            except BaseException:
                self.stop()
                raise

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            hdrs = {"content-type": "application/json", **(headers or {})}
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
             ) -> tuple[int, Any]:
        status, _, data = self.request(method, path, body, headers)
        return status, json.loads(data) if data else None

    def metrics(self) -> dict[str, float]:
        """Metric lines without HELP/TYPE: 'name{labels}' -> value."""
        status, _, data = self.request("GET", "/metrics")
        assert status == 200
        out = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def gauge(self, name: str) -> float:
        return self.metrics()[f'{name}{{model_name="test-model"}}']

    def open_stream(self, body: dict[str, Any], path: str = "/v1/chat/completions",
                    headers: dict[str, str] | None = None) -> SseStream:
        return SseStream(self.port, path, body, headers or {})


class SseStream:
    """A raw-socket streaming request: read the status, then SSE frames one by one; close() = client disconnect."""

    def __init__(self, port: int, path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        data = json.dumps(body).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                          f"content-length: {len(data)}\r\n{extra}\r\n".encode() + data)
        self.buf = b""
        self.body = b""
        self.ended = False  # the terminating zero-length chunk arrived
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            if not self._fill():
                raise ConnectionError(f"connection closed before {marker!r}")
        out, self.buf = self.buf.split(marker, 1)
        return out

    def _decode_chunks(self) -> None:
        while not self.ended:
            end = self.buf.find(b"\r\n")
            if end < 0:
                return
            size = int(self.buf[:end], 16)
            if size == 0:
                self.ended = True
                self.buf = self.buf[end + 2 :]
                return
            if len(self.buf) < end + 2 + size + 2:
                return
            self.body += self.buf[end + 2 : end + 2 + size]
            self.buf = self.buf[end + 4 + size :]

    def next_frame(self, timeout: float = 10.0) -> str | None:
        """The next `data:` payload, or None when the stream ended (cleanly or not)."""
        self.sock.settimeout(timeout)
        while True:
            self._decode_chunks()
            if b"\n\n" in self.body:
                frame, self.body = self.body.split(b"\n\n", 1)
                text = frame.decode()
                assert text.startswith("data: "), text
                return text[len("data: ") :]
            if self.ended:
                return None
            try:
                if not self._fill():
                    return None
            except ConnectionResetError:
                return None

    def frames(self, timeout: float = 10.0) -> list[str]:
        out = []
        while (frame := self.next_frame(timeout)) is not None:
            out.append(frame)
        return out

    def events(self, timeout: float = 10.0) -> list[tuple[str | None, str]]:
        """The rest of the stream as (event name, data) pairs, for streams with named events (Responses API)."""
        self.sock.settimeout(timeout)
        while not self.ended:
            self._decode_chunks()
            if self.ended or not self._fill():
                break
        self._decode_chunks()
        out: list[tuple[str | None, str]] = []
        for block in self.body.decode().split("\n\n"):
            if not block:
                continue
            fields = dict(line.split(": ", 1) for line in block.split("\n"))
            out.append((fields.get("event"), fields["data"]))
        self.body = b""
        return out

    def close(self) -> None:
        self.sock.close()


def chat(content: str, **extra: Any) -> dict[str, Any]:
    return {"model": "test-model", "messages": [{"role": "user", "content": content}], **extra}


def wait_until(predicate: Any, timeout: float = 5.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)

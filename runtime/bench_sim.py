"""Measures the simulator's streaming speed: SSE chunks per second across many concurrent streams.

    python3 runtime/bench_sim.py [--streams 100] [--seconds 5] [--max-tokens 1000]

Starts `python3 -m llm_runtime --engine sim --sim-itl-ms 0 --sim-ttft-ms 0 --sim-prefill-tps 0` on a free 127.0.0.1
port (one process, so one core), opens --streams keep-alive connections that each stream chat completions back to
back, counts the `data:` frames received during the measured window, and reports chunks/s and the server's CPU use.
Standard library only; talks to 127.0.0.1 only; always stops the server it started.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sim(port: int, max_num_seqs: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_runtime", "--engine", "sim", "m", "--served-model-name", "bench", "--host",
         "127.0.0.1", "--port", str(port), "--max-num-seqs", str(max_num_seqs), "--sim-itl-ms", "0",
         "--sim-ttft-ms", "0", "--sim-prefill-tps", "0", "--sim-mode", "lorem"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    for line in proc.stdout:
        if '"event":"ready"' in line:
            return proc
        if '"event":"fatal"' in line or time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit(f"the simulator did not become ready: {line.strip()}")


def cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Stream:
    __slots__ = ("sock", "tail", "frames", "done", "requests")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.tail = b""
        self.frames = 0
        self.done = 0
        self.requests = 0


def run(streams: int, seconds: float, max_tokens: int, port: int) -> dict[str, float]:
    body = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "Tell me a story."}],
                       "max_tokens": max_tokens, "ignore_eos": True, "stream": True}).encode()
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
               b"content-length: %d\r\n\r\n%s" % (len(body), body))
    sel = selectors.DefaultSelector()
    all_streams = []
    for _ in range(streams):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        st = Stream(sock)
        all_streams.append(st)
        sel.register(sock, selectors.EVENT_READ, st)
        sock.sendall(request)
        st.requests += 1
    warmup_end = time.monotonic() + min(1.0, seconds / 5)
    measuring = False
    counted_from = 0
    start = end = 0.0
    cpu0 = None
    client_cpu0 = 0.0
    while True:
        now = time.monotonic()
        if not measuring and now >= warmup_end:
            measuring = True
            counted_from = sum(s.frames for s in all_streams)
            start = now
            cpu0 = cpu_seconds(SERVER_PID)
            client_cpu0 = time.process_time()
        if measuring and now - start >= seconds:
            end = now
            break
        for key, _ in sel.select(timeout=1.0):
            st: Stream = key.data
            data = st.sock.recv(1 << 18)
            if not data:
                raise SystemExit("the server closed a connection")
            chunk = st.tail + data
            st.frames += chunk.count(b"data: {")
            if b"\r\n0\r\n\r\n" in chunk:
                st.done += 1
                st.sock.sendall(request)
                st.requests += 1
                chunk = b""
            st.tail = chunk[-8:]
    cpu1 = cpu_seconds(SERVER_PID)
    frames = sum(s.frames for s in all_streams) - counted_from
    for st in all_streams:
        st.sock.close()
    elapsed = end - start
    result = {"streams": streams, "seconds": round(elapsed, 2), "chunks": frames,
              "chunks_per_s": round(frames / elapsed), "completed_requests": sum(s.done for s in all_streams)}
    if cpu0 is not None and cpu1 is not None and cpu1 > cpu0:
        result["server_cpu_percent"] = round(100 * (cpu1 - cpu0) / elapsed, 1)
        # What one fully busy core would stream: the figure that does not depend on how loaded the machine is.
        result["chunks_per_server_cpu_s"] = round(frames / (cpu1 - cpu0))
    result["client_cpu_percent"] = round(100 * (time.process_time() - client_cpu0) / elapsed, 1)
    return result


SERVER_PID = 0


def main() -> int:
    global SERVER_PID
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--max-tokens", type=int, default=1000)
    args = ap.parse_args()
    if not 1 <= args.streams <= 2000 or not 0.5 <= args.seconds <= 120:
        ap.error("--streams must be 1..2000 and --seconds 0.5..120")
    port = free_port()
    proc = start_sim(port, max(256, args.streams))
    SERVER_PID = proc.pid
    try:
        result = run(args.streams, args.seconds, args.max_tokens, port)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

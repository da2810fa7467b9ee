"""The simulated engine: vLLM-style continuous batching in scheduler steps, with a latency model and fault knobs.

Every step admits waiting requests (FIFO, at most --max-num-seqs running, prompts within the --max-num-batched-tokens
budget left after one token per decoding sequence), then gives each running sequence whose time has come one token.
Latency model: time to first token = sim_ttft_ms x (1 + prompt_tokens / 1024); a decode step lasts
sim_itl_ms x (1 + (decoding sequences - 1) / 128), so inter-token latency grows with the batch.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from .metrics import EngineMetrics
from .options import SimOptions
from .requests import Plan
from .responses import StreamFrames, encode_token, full_response
from .responses_api import ResponsesFrames

_LAST_CHUNK = b"0\r\n\r\n"


class Sink(Protocol):
    """The HTTP connection a sequence answers on."""

    paused: bool

    def write(self, data: bytes) -> None: ...

    def respond_json(self, status: int, body: bytes) -> None: ...

    def end_stream(self, data: bytes) -> None: ...

    def abort(self) -> None: ...


class Sequence:
    __slots__ = ("plan", "sink", "frames", "enc", "n", "pos", "number", "request_id", "created", "arrival",
                 "first_at", "last_token_at", "started", "done", "hung", "crash", "write", "fixed_len",
                 "tok_prefix", "tok_suffix")

    def __init__(self, plan: Plan, sink: Sink, number: int, request_id: str, created: int, arrival: float) -> None:
        self.plan = plan
        self.sink = sink
        self.number = number
        self.request_id = request_id
        self.created = created
        self.arrival = arrival
        self.enc = [encode_token(t) for t in plan.tokens]
        self.n = len(self.enc)
        self.pos = 0
        self.first_at = 0.0
        self.last_token_at = 0.0
        self.started = False  # first token emitted
        self.done = False
        self.hung = False
        self.crash = False
        self.write = sink.write
        frames_of = ResponsesFrames if plan.kind == "responses" else StreamFrames
        self.frames = frames_of(plan, request_id, created) if plan.stream else None
        if isinstance(self.frames, StreamFrames) and not plan.continuous_usage:
            # The hot path: one %-format builds the HTTP chunk around prefix + token + suffix.
            self.tok_prefix = self.frames._tok_prefix
            self.tok_suffix = self.frames._tok_suffix
            self.fixed_len = len(self.tok_prefix) + len(self.tok_suffix)
        else:
            self.tok_prefix = self.tok_suffix = b""
            self.fixed_len = -1


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


class Engine:
    def __init__(self, opts: SimOptions, metrics: EngineMetrics, on_crash: Callable[[Sequence], None]) -> None:
        self.opts = opts
        self.metrics = metrics
        self.on_crash = on_crash
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.submitted = 0  # requests that passed validation and the error knob, numbered from 1
        self.wedged = False  # SIGUSR1: generation stops for good while /health stays 200 (see wedge())
        self.validated = 0
        self.next_decode_at = 0.0
        self.last_decode_at = -1.0
        self._waiter: asyncio.Future[None] | None = None
        self._ttft_s = opts.ttft_ms / 1000.0
        self._itl_s = opts.itl_ms / 1000.0
        self._kv_capacity = float(opts.max_model_len * opts.max_num_seqs)

    # --- requests -----------------------------------------------------------------------------------------------

    def injects_error(self) -> bool:
        """--sim-error-rate P fails exactly floor(n x P) of the first n requests, spread evenly (deterministic)."""
        self.validated += 1
        rate = self.opts.error_rate
        n = self.validated
        return int(n * rate) > int((n - 1) * rate)

    def submit(self, plan: Plan, sink: Sink, request_id: str, created: int) -> Sequence:
        self.submitted += 1
        seq = Sequence(plan, sink, self.submitted, request_id, created, time.monotonic())
        hang_after = self.opts.hang_after
        seq.hung = self.wedged or (hang_after is not None and seq.number > hang_after)
        seq.crash = self.opts.crash_after is not None and seq.number == self.opts.crash_after
        self.waiting.append(seq)
        self.wake()
        return seq

    def wedge(self) -> None:
        """Hangs generation on demand, the way vLLM has been seen to (engine stuck, HTTP server and /health fine):
        every request, running, waiting or new, gets no more tokens. For soaks and tests that hang a live engine."""
        self.wedged = True
        for seq in list(self.running) + list(self.waiting):
            seq.hung = True

    def cancel(self, seq: Sequence) -> None:
        """The client went away: free its slot now, so num_requests_running drops at once."""
        if seq.done:
            return
        seq.done = True
        if seq in self.running:
            self.running.remove(seq)
        else:
            try:
                self.waiting.remove(seq)
            except ValueError:
                pass
        self.metrics.success["abort"] += 1
        self.metrics.e2e.observe(time.monotonic() - seq.arrival)
        self.wake()

    def abort_all(self) -> None:
        for seq in list(self.running) + list(self.waiting):
            seq.sink.abort()
            self.cancel(seq)

    @property
    def in_flight(self) -> int:
        return len(self.running) + len(self.waiting)

    def kv_cache_usage(self) -> float:
        held = sum(s.plan.prompt_tokens + s.pos for s in self.running)
        return min(1.0, held / self._kv_capacity) if self._kv_capacity else 0.0

    # --- scheduling ---------------------------------------------------------------------------------------------

    def wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = time.monotonic()
            delay = self.step(now)
            if delay == 0.0:
                await asyncio.sleep(0)
                continue
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(delay, _resolve, waiter) if delay is not None else None
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()

    def step(self, now: float) -> float | None:
        """Runs one scheduler step; returns seconds until the next one is due (None: nothing to do until woken)."""
        running = self.running
        waiting = self.waiting
        metrics = self.metrics
        if waiting and len(running) < self.opts.max_num_seqs:
            self._admit(now)
        decode_due = now >= self.next_decode_at
        decoded = 0
        finished = False
        next_first: float | None = None
        itl = metrics.itl
        last_decode = self.last_decode_at
        firsts = 0
        in_step = 0  # sequences that also decoded in the previous step: one shared interval, one histogram update
        for seq in running:
            if seq.hung or seq.sink.paused or seq.done:
                continue
            if not seq.started:
                if now >= seq.first_at:
                    firsts += 1
                    self._first_token(seq, now)
                    finished = finished or seq.done
                elif next_first is None or seq.first_at < next_first:
                    next_first = seq.first_at
                continue
            if not decode_due:
                continue
            pos = seq.pos
            if seq.last_token_at == last_decode:
                in_step += 1
            else:
                itl.observe(now - seq.last_token_at)
            seq.last_token_at = now
            decoded += 1
            if pos + 1 < seq.n:
                seq.pos = pos + 1
                if seq.fixed_len >= 0:
                    enc = seq.enc[pos]
                    seq.write(b"%x\r\n%b%b%b\r\n" % (seq.fixed_len + len(enc), seq.tok_prefix, enc, seq.tok_suffix))
                elif seq.frames is not None:
                    seq.write(_chunk(seq.frames.token(seq.enc[pos], pos + 1)))
            else:
                self._finish(seq, now)
                finished = True
        if decoded:
            metrics.generation_tokens += decoded
            if in_step:
                itl.observe_many(now - last_decode, in_step)
            self.last_decode_at = now
            self.next_decode_at = now + self._itl_s * (1.0 + (decoded - 1) / 128.0)
        elif firsts and self.next_decode_at < now + self._itl_s:
            # A sequence's second token comes one decode step after its first, not at once.
            self.next_decode_at = now + self._itl_s
        if finished:
            self.running = [s for s in self.running if not s.done]
        return self._next_delay(now, next_first)

    def _next_delay(self, now: float, next_first: float | None) -> float | None:
        if self.waiting and len(self.running) < self.opts.max_num_seqs:
            return 0.0
        due: float | None = next_first
        for seq in self.running:
            if seq.started and not seq.hung and not seq.sink.paused:
                due = self.next_decode_at if due is None else min(due, self.next_decode_at)
                break
        if due is None:
            return None
        return max(0.0, due - now)

    def _admit(self, now: float) -> None:
        budget = self.opts.max_num_batched_tokens - sum(1 for s in self.running if s.started)
        admitted = 0
        limit = self.opts.max_num_seqs
        while self.waiting and len(self.running) < limit:
            seq = self.waiting[0]
            prompt = seq.plan.prompt_tokens
            # Chunked prefill lets one long prompt in even when it exceeds the step budget on its own.
            if prompt > budget and admitted:
                break
            self.waiting.popleft()
            budget -= prompt
            admitted += 1
            self.metrics.queue.observe(now - seq.arrival)
            self.metrics.prompt_tokens += prompt
            seq.first_at = now + self._ttft_s * (1.0 + prompt / 1024.0)
            self.running.append(seq)

    def _first_token(self, seq: Sequence, now: float) -> None:
        seq.started = True
        seq.last_token_at = now
        self.metrics.ttft.observe(now - seq.arrival)
        if seq.n:
            self.metrics.generation_tokens += 1
        frames = seq.frames
        lead = frames.role() if frames is not None else b""
        if seq.crash:
            # The crash request dies mid-stream: the client has seen its first token, never the end.
            if frames is not None:
                seq.write(_chunk(lead + (frames.token(seq.enc[0], 1) if seq.n else b"")))
            seq.pos = min(1, seq.n)
            self.on_crash(seq)
            return
        if seq.n <= 1:
            self._finish(seq, now, lead)
            return
        seq.pos = 1
        if frames is not None:
            seq.write(_chunk(lead + frames.token(seq.enc[0], 1)))

    def _finish(self, seq: Sequence, now: float, lead: bytes = b"") -> None:
        """Sends the last token with finish_reason (then usage and [DONE]), or the whole JSON response."""
        plan = seq.plan
        n = seq.n
        seq.pos = n
        seq.done = True
        frames = seq.frames
        if frames is not None:
            body = lead + frames.closing(seq.enc[n - 1] if n else b'""', plan.finish_reason, n)
            seq.sink.end_stream(_chunk(body) + _LAST_CHUNK)
        else:
            seq.sink.respond_json(200, full_response(plan, seq.request_id, seq.created, plan.tokens,
                                                     plan.finish_reason))
        m = self.metrics
        m.success[plan.finish_reason] += 1
        m.e2e.observe(now - seq.arrival)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def crash_now(message: str) -> None:
    """Exits at once, like a process killed mid-work: no cleanup, no flushing of other streams."""
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
        sys.stdout.flush()
    finally:
        os._exit(1)

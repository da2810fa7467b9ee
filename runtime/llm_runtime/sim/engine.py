"""The simulated engine: vLLM V1's scheduler in steps, its prefix cache, a latency model and fault knobs.

A step is planned the way vLLM's scheduler spends its token budget (vllm/v1/core/sched/scheduler.py @ 00024d31,
schedule()): --max-num-batched-tokens tokens go to the running requests in the order they were admitted (one token
for a decoding request, what is left of its prompt, cut to the budget, for one in prefill), then to waiting requests
in arrival order while fewer than --max-num-seqs run. A waiting request first gets its longest cached prefix
(kv_cache.py), then a chunk of the rest. KV blocks are allocated for what is scheduled: a waiting request that does not
fit waits; a running one that does not fit preempts the most recently admitted request (its blocks freed, back to the
head of the queue, recomputed later), and then no waiting request is admitted in that step.

A step lasts sim_itl_ms x (1 + (decoding requests - 1) / 128) when it decodes, plus its prompt tokens /
sim_prefill_tps. When it ends, each decoding request in it gets a token, and a request whose prompt is done gets its
first token sim_ttft_ms later (a fixed overhead outside the engine's steps). Per-token work is a few attribute updates;
block hashes are computed once per request.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from .kv_cache import ROOT, BlockPool, block_keys
from .metrics import EngineMetrics
from .options import SimOptions
from .requests import Plan
from .responses import StreamFrames, encode_token, full_response
from .responses_api import ResponsesFrames

_LAST_CHUNK = b"0\r\n\r\n"
# A running sequence's state: its prompt (or, after preemption, prompt and output) being computed; computed and
# waiting out sim_ttft_ms; decoding.
PREFILL, FIRST, DECODE = 0, 1, 2
# vLLM's scheduler pause states (PauseState, as vllm/v1/engine/core.py @ 00080ee1 sets them): PAUSED_NEW admits no
# waiting request but keeps stepping the running ones; PAUSED_ALL schedules nothing.
UNPAUSED, PAUSED_NEW, PAUSED_ALL = 0, 1, 2


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
                 "tok_prefix", "tok_suffix", "state", "batch", "chunk", "computed", "target", "kv_tokens", "keys",
                 "held", "nblocks", "next_cache", "admitted")

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
        self.state = PREFILL
        self.batch = -1  # the step this sequence was last scheduled in
        self.chunk = 0  # prompt tokens scheduled in that step
        self.computed = 0  # tokens whose KV is computed
        self.target = plan.prompt_tokens  # tokens to compute before the next token is sampled
        self.kv_tokens = 0  # tokens with KV slots allocated
        self.keys: list[int] | None = None  # hashes of its full blocks, prompt first
        self.held: list[int] = []  # cached blocks it holds a reference to
        self.nblocks = 0  # KV blocks it holds, cached or not
        self.next_cache = 0  # index in keys of its first block not cached yet
        self.admitted = False
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
        self.pool = BlockPool(opts.kv_blocks)
        self.in_step = False  # a step is being computed until step_end
        self.step_end = 0.0
        self.serial = 0  # the number of the last step planned; scheduled sequences carry it in .batch
        self.first_due: float | None = None  # the earliest first token waiting out sim_ttft_ms
        self.last_decode_at = -1.0
        self._waiter: asyncio.Future[None] | None = None
        self._ttft_s = opts.ttft_ms / 1000.0
        self._itl_s = opts.itl_ms / 1000.0
        self._bs = opts.block_size
        self._caching = opts.prefix_caching
        self._preempted_now = False  # a preemption happened while the current step was planned
        self._first_paused = False  # a first token is due but its client is not reading: retry on every wake
        self._finished = False  # a sequence finished and is still in self.running
        self.pause = UNPAUSED  # set by sleep mode (sleep.py)

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
        """The client went away: free its slot and its KV blocks now, so num_requests_running drops at once."""
        if seq.done:
            return
        seq.done = True
        if seq in self.running:
            self.running.remove(seq)
            self._release(seq)
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

    def abort_requests(self) -> None:
        """vLLM's pause in mode "abort" (scheduler.finish_requests(None, FINISHED_ABORTED)): every running and
        waiting request ends now with finish_reason "abort", its stream closed cleanly with what it has so far."""
        now = time.monotonic()
        seqs = [s for s in self.running + list(self.waiting) if not s.done]
        self.running = []
        self.waiting.clear()
        for seq in seqs:
            self._finish_aborted(seq, now)
        self.first_due = None
        self._first_paused = False

    def preempt_running(self) -> None:
        """Every running request back to the head of the queue, in admission order, its KV freed (recomputed later)."""
        while self.running:
            seq = self.running.pop()
            if not seq.done:
                self._preempt(seq)
        # The flag holds admissions back within one plan; outside planning it would stall the next one.
        self._preempted_now = False

    def reset_prefix_cache(self, reset_running_requests: bool = False) -> bool:
        """vLLM's Scheduler.reset_prefix_cache: with reset_running_requests the running requests are preempted
        first; the cache is emptied only when no block is held (False otherwise)."""
        if reset_running_requests:
            self.preempt_running()
        return self.pool.reset()

    @property
    def in_flight(self) -> int:
        return len(self.running) + len(self.waiting)

    def kv_cache_usage(self) -> float:
        return self.pool.usage

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
        """Ends the step being computed if it is due and plans the next; returns seconds until something is due
        (None: nothing to do until woken). Between steps only first tokens whose overhead has passed go out."""
        if not self.in_step or now >= self.step_end:
            if self.in_step:
                self.in_step = False
                self._end_step(now)
            self._plan(now)
        elif self._first_paused or (self.first_due is not None and now >= self.first_due):
            self._first_tokens(now)
        if self._finished:
            self._finished = False
            self.running = [s for s in self.running if not s.done]
        return self._next_delay(now)

    def _next_delay(self, now: float) -> float | None:
        due = self.step_end if self.in_step else None
        first = self.first_due
        if first is not None and (due is None or first < due):
            due = first
        if due is None:
            return None
        return max(0.0, due - now)

    def _end_step(self, now: float) -> None:
        """What the step computed: a token for each decoding sequence in it, progress for each prefill."""
        serial = self.serial
        metrics = self.metrics
        itl = metrics.itl
        last_decode = self.last_decode_at
        in_step = 0  # sequences that also decoded in the previous step: one shared interval, one histogram update
        decoded = 0
        for seq in self.running:
            if seq.batch != serial or seq.done or seq.hung:
                continue
            if seq.state == PREFILL:
                seq.computed += seq.chunk
                if seq.computed < seq.target:
                    continue
                if not seq.started:
                    seq.state = FIRST
                    seq.first_at = first_at = now + self._ttft_s
                    if self.first_due is None or first_at < self.first_due:
                        self.first_due = first_at
                    continue
                seq.state = DECODE  # recomputed after a preemption: this step samples its next token
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
        if decoded:
            metrics.generation_tokens += decoded
            if in_step:
                itl.observe_many(now - last_decode, in_step)
            self.last_decode_at = now
        if self._finished:
            self._finished = False
            self.running = [s for s in self.running if not s.done]

    def _first_tokens(self, now: float) -> None:
        """Sends the first tokens that are due; one whose client is not reading waits until it reads again."""
        first_due: float | None = None
        paused = False
        for seq in self.running:
            if seq.state != FIRST or seq.done or seq.hung:
                continue
            if seq.sink.paused:
                paused = True
            elif now >= seq.first_at:
                self._first_token(seq, now)
            elif first_due is None or seq.first_at < first_due:
                first_due = seq.first_at
        self.first_due = first_due
        self._first_paused = paused

    def _plan(self, now: float) -> None:
        """Schedules the next step: running sequences in admission order, then waiting ones, within the budget."""
        if self._first_paused or (self.first_due is not None and now >= self.first_due):
            self._first_tokens(now)
        if self.pause == PAUSED_ALL:
            return
        bs = self._bs
        budget = self.opts.max_num_batched_tokens
        serial = self.serial + 1
        self.serial = serial
        decoders = 0
        prefill = 0
        preempted = False
        # Preemption pops sequences off the end of self.running, which a for loop over it tolerates.
        for seq in self.running:
            if budget <= 0:
                break
            if seq.done or seq.hung:
                continue
            state = seq.state
            if state == DECODE:
                if seq.sink.paused:
                    continue
                if seq.kv_tokens % bs == 0 and not self._grow(seq, 1):
                    preempted = True
                    break
                seq.kv_tokens += 1
                decoders += 1
                budget -= 1
            elif state == PREFILL:
                chunk = min(seq.target - seq.computed, budget)
                end = seq.computed + chunk
                if not self._grow(seq, -(-end // bs) - seq.nblocks):
                    preempted = True
                    break
                seq.kv_tokens = end
                self._cache_blocks(seq, end)
                seq.chunk = chunk
                prefill += chunk
                budget -= chunk
            else:
                continue
            seq.batch = serial
        preempted = preempted or self._preempted_now
        self._preempted_now = False
        if not preempted and self.pause == UNPAUSED:
            prefill += self._admit(now, serial, budget)
        if decoders or prefill:
            duration = self._itl_s * (1.0 + (decoders - 1) / 128.0) if decoders else 0.0
            if self.opts.prefill_tps:
                duration += prefill / self.opts.prefill_tps
            self.in_step = True
            self.step_end = now + duration

    def _admit(self, now: float, serial: int, budget: int) -> int:
        """Moves waiting sequences into the step while the budget, --max-num-seqs and the KV blocks allow; returns
        the prompt tokens scheduled."""
        waiting = self.waiting
        running = self.running
        pool = self.pool
        bs = self._bs
        limit = self.opts.max_num_seqs
        scheduled = 0
        while waiting and budget > 0 and len(running) < limit:
            seq = waiting[0]
            if seq.hung:
                # A hung request holds its slot and computes nothing (--sim-hang-after, SIGUSR1).
                waiting.popleft()
                self._count_admission(seq, now, 0)
                running.append(seq)
                continue
            if seq.keys is None:
                seq.keys = block_keys(seq.plan.prompt, bs) if self._caching else []
            hit = pool.hits(seq.keys, (seq.target - 1) // bs) if self._caching else 0
            hit_keys = seq.keys[:hit]
            computed = hit * bs
            chunk = min(seq.target - computed, budget)
            end = computed + chunk
            new_blocks = -(-end // bs) - hit
            if new_blocks > pool.available_after_touch(hit_keys):
                break
            waiting.popleft()
            pool.touch(hit_keys)
            pool.take(new_blocks)
            seq.held = hit_keys
            seq.nblocks = hit + new_blocks
            seq.next_cache = hit
            seq.computed = computed
            seq.kv_tokens = end
            self._cache_blocks(seq, end)
            self._count_admission(seq, now, computed)
            seq.state = PREFILL
            seq.chunk = chunk
            seq.batch = serial
            running.append(seq)
            scheduled += chunk
            budget -= chunk
        return scheduled

    def _count_admission(self, seq: Sequence, now: float, cached: int) -> None:
        """Queue time, prompt tokens and prefix-cache counts, once per request (not again after a preemption, as
        vLLM's PrefixCacheStats keeps preempted requests apart)."""
        if seq.admitted:
            return
        seq.admitted = True
        m = self.metrics
        m.queue.observe(now - seq.arrival)
        m.prompt_tokens += seq.plan.prompt_tokens
        if self._caching and not seq.hung:
            m.prefix_queries += seq.target
            m.prefix_hits += cached
        if seq.plan.cached_tokens is not None:
            seq.plan.cached_tokens = cached

    def _grow(self, seq: Sequence, blocks: int) -> bool:
        """Gives seq `blocks` more KV blocks, preempting from the most recently admitted running sequence until they
        are free; False when seq itself had to go."""
        pool = self.pool
        running = self.running
        while pool.free < blocks:
            victim = running.pop()
            if victim.done:
                continue
            self._preempt(victim)
            if victim is seq:
                return False
        if blocks > 0:
            pool.take(blocks)
            seq.nblocks += blocks
        return True

    def _preempt(self, seq: Sequence) -> None:
        """vLLM's recompute preemption: the blocks go back to the pool (cached ones stay cached), the sequence goes
        to the head of the queue and computes its prompt and output so far again when it is admitted."""
        self._release(seq)
        seq.state = PREFILL
        seq.batch = -1
        seq.computed = 0
        seq.kv_tokens = 0
        seq.target = seq.plan.prompt_tokens + seq.pos
        self.waiting.appendleft(seq)
        self._preempted_now = True

    def _cache_blocks(self, seq: Sequence, tokens: int) -> None:
        """Caches the sequence's blocks that `tokens` fill, as vLLM does when it schedules them."""
        keys = seq.keys
        if not keys:
            return
        end = min(len(keys), tokens // self._bs)
        pool = self.pool
        for j in range(seq.next_cache, end):
            if pool.cache(keys[j]):
                seq.held.append(keys[j])
        if end > seq.next_cache:
            seq.next_cache = end

    def _release(self, seq: Sequence) -> None:
        """Frees the sequence's blocks, after caching the full blocks its output filled (vLLM caches those too)."""
        if not seq.nblocks:
            return
        keys = seq.keys
        if self._caching and keys is not None and seq.pos:
            bs = self._bs
            full = seq.kv_tokens // bs
            start = len(keys)
            if full > start:
                plan = seq.plan
                prompt_len = plan.prompt_tokens
                tail = plan.prompt[start * bs:] + plan.tokens[max(0, start * bs - prompt_len):seq.pos]
                keys += block_keys(tail[:(full - start) * bs], bs, 0, keys[-1] if keys else ROOT)
                self._cache_blocks(seq, full * bs)
        self.pool.release(seq.held, seq.nblocks - len(seq.held))
        seq.held = []
        seq.nblocks = 0
        seq.next_cache = 0

    def _first_token(self, seq: Sequence, now: float) -> None:
        seq.state = DECODE
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
        self._finished = True
        self._release(seq)
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

    def _finish_aborted(self, seq: Sequence, now: float) -> None:
        """Ends a request with finish_reason "abort": a stream gets its closing chunk (and role chunk if it had none)."""
        seq.done = True
        self._release(seq)
        frames = seq.frames
        plan = seq.plan
        if frames is not None:
            lead = frames.role() if not seq.started else b""
            seq.sink.end_stream(_chunk(lead + frames.closing(b'""', "abort", seq.pos)) + _LAST_CHUNK)
        else:
            seq.sink.respond_json(200, full_response(plan, seq.request_id, seq.created, plan.tokens[:seq.pos],
                                                     "abort"))
        self.metrics.success["abort"] += 1
        self.metrics.e2e.observe(now - seq.arrival)


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

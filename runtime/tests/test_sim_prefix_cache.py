"""The simulator's prefix cache and prefill model, on hand-computed cases.

vLLM's scheme (vllm/v1/core/kv_cache_utils.py, block_pool.py, kv_cache_manager.py; see sim/kv_cache.py): only full
16-token blocks are cached, each block's hash chains on its parent's, a hit is the longest run of cached blocks from
the start and never covers the last prompt token, and freed blocks stay cached until the free queue hands them out
again, least recently freed first and a request's tail block before its head. The scheduler (sim/engine.py) shares
each step's --max-num-batched-tokens between prefills in admission order.
"""

from __future__ import annotations

import json
import unittest
from typing import Any

from llm_runtime.sim.engine import Engine
from llm_runtime.sim.kv_cache import BlockPool, block_keys
from llm_runtime.sim.metrics import EngineMetrics
from llm_runtime.sim.options import parse_sim_options
from llm_runtime.sim.requests import plan_reply

from .support import Sim


def ids(start: int, count: int) -> list[int]:
    return list(range(start, start + count))


class BlockHashTest(unittest.TestCase):
    def test_only_full_blocks_are_hashed_each_chained_on_its_parent(self) -> None:
        a = block_keys(ids(0, 40), 16)
        self.assertEqual(len(a), 2)  # 40 tokens: two full blocks, the last 8 tokens are not hashed
        b = block_keys(ids(0, 32) + [999] * 8, 16)
        self.assertEqual(a, b)
        c = block_keys(ids(0, 20) + [999] + ids(21, 19), 16)  # differs at token 20, inside the second block
        self.assertEqual(c[0], a[0])
        self.assertNotEqual(c[1], a[1])
        d = block_keys([999] + ids(1, 39), 16)  # the same second block after a different first one
        self.assertNotEqual(d[1], a[1])


class BlockPoolTest(unittest.TestCase):
    def test_freed_blocks_stay_cached_and_are_reused_tail_first_least_recently_freed_first(self) -> None:
        pool = BlockPool(6)
        a = block_keys(ids(0, 48), 16)  # a0 a1 a2
        b = block_keys(ids(100, 32), 16)  # b0 b1
        pool.take(3)
        for k in a:
            self.assertTrue(pool.cache(k))
        pool.take(2)
        for k in b:
            self.assertTrue(pool.cache(k))
        self.assertEqual(pool.free, 1)
        pool.release(a, 0)  # free queue: a2 a1 a0 (tail first)
        pool.release(b, 0)  # then b1 b0
        self.assertEqual((pool.free, pool.usage), (6, 0.0))
        self.assertEqual(pool.hits(a, 3), 3)
        pool.take(1)  # the never-used block goes first
        self.assertEqual((pool.hits(a, 3), pool.hits(b, 2)), (3, 2))
        pool.take(2)  # then a2 and a1: a's tail before its head
        self.assertEqual((pool.hits(a, 3), pool.hits(b, 2)), (1, 2))
        pool.take(1)  # then a0, freed before b's blocks
        self.assertEqual((pool.hits(a, 3), pool.hits(b, 2)), (0, 2))
        self.assertEqual(pool.evicted, 3)

    def test_a_hit_takes_a_free_cached_block_out_of_the_queue(self) -> None:
        pool = BlockPool(2)
        a = block_keys(ids(0, 32), 16)
        pool.take(2)
        pool.cache(a[0])
        pool.cache(a[1])
        pool.release(a, 0)  # queue: a1 a0
        self.assertEqual(pool.available_after_touch(a[:1]), 1)
        pool.touch(a[:1])  # a0 is held again: only a1 can be handed out
        self.assertEqual(pool.free, 1)
        pool.take(1)
        self.assertEqual(pool.hits(a, 2), 1)
        self.assertEqual(pool.usage, 1.0)

    def test_an_unhashed_run_is_reused_in_its_turn(self) -> None:
        pool = BlockPool(4)
        a = block_keys(ids(0, 16), 16)
        pool.take(4)
        pool.cache(a[0])
        pool.release(a, 3)  # a request with one cached block and three partial or decode blocks: queue anon(3) a0
        pool.take(2)
        self.assertEqual(pool.hits(a, 1), 1)
        pool.take(2)
        self.assertEqual(pool.hits(a, 1), 0)
        self.assertEqual(pool.free, 0)


def completion(prompt: list[int], max_tokens: int = 1, **extra: Any) -> dict[str, Any]:
    return {"model": "test-model", "prompt": prompt, "max_tokens": max_tokens, **extra}


class PrefixHitsOverHttpTest(unittest.TestCase):
    """cached_tokens as vLLM reports it with --enable-prompt-tokens-details, and the prefix-cache counters."""

    def cached(self, sim: Sim, prompt: list[int]) -> int:
        status, body = sim.json("POST", "/v1/completions", completion(prompt))
        self.assertEqual(status, 200, body)
        return body["usage"]["prompt_tokens_details"]["cached_tokens"]

    def test_shared_prefixes_hit_their_full_blocks(self) -> None:
        with Sim("--enable-prompt-tokens-details") as sim:
            self.assertEqual(self.cached(sim, ids(0, 100)), 0)
            self.assertEqual(self.cached(sim, ids(0, 64) + ids(1000, 36)), 64)  # 4 shared blocks
            self.assertEqual(self.cached(sim, ids(0, 70) + ids(2000, 30)), 64)  # diverges inside block 5: not hit
            self.assertEqual(self.cached(sim, ids(0, 100)), 96)  # the whole prompt: its 6 full blocks
            # 96 tokens are 6 cached blocks, but the last prompt token is always computed: the 6th is recomputed.
            self.assertEqual(self.cached(sim, ids(0, 96)), 80)
            metrics = sim.metrics()
            self.assertEqual(metrics['vllm:prefix_cache_queries_total{model_name="test-model"}'], 100 * 4 + 96)
            self.assertEqual(metrics['vllm:prefix_cache_hits_total{model_name="test-model"}'], 64 + 64 + 96 + 80)
            self.assertEqual(metrics['vllm:kv_cache_usage_perc{model_name="test-model"}'], 0.0)

    def test_a_chat_hits_the_shared_system_prompt_and_reports_it_in_every_api(self) -> None:
        system = " ".join(f"s{i}" for i in range(60))  # 60 tokens
        body = {"model": "test-model", "max_tokens": 3, "messages": [
            {"role": "system", "content": system}, {"role": "user", "content": "first question"}]}
        other = {**body, "messages": [{"role": "system", "content": system},
                                      {"role": "user", "content": "another one"}]}
        # Shared: the system header (3), its 60 tokens, end of turn, the user header (3) = 67 tokens: 4 full blocks.
        with Sim("--enable-prompt-tokens-details") as sim:
            status, first = sim.json("POST", "/v1/chat/completions", body)
            self.assertEqual((status, first["usage"]["prompt_tokens_details"]), (200, {"cached_tokens": 0}))
            stream = sim.open_stream({**other, "stream": True, "stream_options": {"include_usage": True}})
            frames = stream.frames()
            stream.close()
            self.assertEqual(json.loads(frames[-2])["usage"]["prompt_tokens_details"], {"cached_tokens": 64})
            status, resp = sim.json("POST", "/v1/responses", {"model": "test-model", "instructions": system,
                                                              "input": "a third", "max_output_tokens": 3})
            self.assertEqual(resp["usage"]["input_tokens_details"], {"cached_tokens": 64})

    def test_without_enable_prompt_tokens_details_usage_has_no_cached_tokens(self) -> None:
        with Sim() as sim:
            for _ in range(2):
                status, body = sim.json("POST", "/v1/completions", completion(ids(0, 40)))
            self.assertEqual(body["usage"]["prompt_tokens_details"], None)
            stream = sim.open_stream({**completion(ids(0, 40)), "stream": True,
                                      "stream_options": {"include_usage": True}}, path="/v1/completions")
            usage = json.loads(stream.frames()[-2])["usage"]
            stream.close()
            self.assertNotIn("prompt_tokens_details", usage)
            # The Responses API reports cached input tokens regardless of the flag, as vLLM's does.
            for _ in range(2):
                status, resp = sim.json("POST", "/v1/responses", {"model": "test-model", "input": "word " * 40,
                                                                  "max_output_tokens": 2})
            self.assertEqual(resp["usage"]["input_tokens_details"], {"cached_tokens": 32})
            self.assertEqual(sim.metrics()['vllm:prefix_cache_hits_total{model_name="test-model"}'], 32 * 3)

    def test_with_prefix_caching_off_nothing_hits_and_nothing_is_counted(self) -> None:
        with Sim("--no-enable-prefix-caching", "--enable-prompt-tokens-details") as sim:
            self.assertEqual(self.cached(sim, ids(0, 100)), 0)
            self.assertEqual(self.cached(sim, ids(0, 100)), 0)
            metrics = sim.metrics()
            self.assertEqual(metrics['vllm:prefix_cache_queries_total{model_name="test-model"}'], 0)
            self.assertEqual(metrics['vllm:prefix_cache_hits_total{model_name="test-model"}'], 0)

    def test_a_full_cache_evicts_the_least_recently_freed_tail_first(self) -> None:
        # 4 blocks of 16. A's 3 blocks are freed tail first (a2 a1 a0 in the queue, behind the never-used block);
        # B needs 3: the unused block, a2, a1. A again finds only a0.
        with Sim("--enable-prompt-tokens-details", "--max-model-len", "64", "--sim-kv-tokens", "64") as sim:
            self.assertEqual(self.cached(sim, ids(0, 48)), 0)
            self.assertEqual(self.cached(sim, ids(500, 48)), 0)
            self.assertEqual(self.cached(sim, ids(0, 48)), 16)

    def test_a_kv_cache_smaller_than_one_sequence_refuses_to_start(self) -> None:
        sim = Sim("--max-model-len", "100", "--sim-kv-tokens", "96", wait_ready=False)
        try:
            self.assertEqual(sim.wait_exit(), 2)
            self.assertEqual(sim.wait_event("fatal")["reason"], "bad_config")
        finally:
            sim.stop()


class FakeSink:
    """An HTTP connection that notes, on the test's clock, when each write arrives."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.paused = False
        self.writes: list[float] = []
        self.ended_at: float | None = None

    def write(self, data: bytes) -> None:
        self.writes.append(self.clock[0])

    def respond_json(self, status: int, body: bytes) -> None:
        self.ended_at = self.clock[0]

    def end_stream(self, data: bytes) -> None:
        self.writes.append(self.clock[0])
        self.ended_at = self.clock[0]

    def abort(self) -> None:
        pass


def run_engine(flags: list[str], prompts: list[list[int]], max_tokens: int = 2) -> list[FakeSink]:
    """Submits the prompts at time 0 and steps the engine on a simulated clock until it is idle."""
    opts = parse_sim_options(["m", "--served-model-name", "test-model", *flags], {})
    engine = Engine(opts, EngineMetrics("test-model"), lambda seq: None)
    clock = [0.0]
    sinks = []
    for prompt in prompts:
        sink = FakeSink(clock)
        plan = plan_reply(opts, completion(prompt, max_tokens, stream=True, ignore_eos=True), "completion")
        engine.submit(plan, sink, "cmpl-x", 0)
        sinks.append(sink)
    for _ in range(10_000):
        delay = engine.step(clock[0])
        if delay is None:
            return sinks
        clock[0] += delay
    raise AssertionError("the engine did not go idle")


class StepBudgetTest(unittest.TestCase):
    """TTFT from the prefill model: tokens computed per step within --max-num-batched-tokens, at --sim-prefill-tps."""

    FLAGS = ["--max-model-len", "12000", "--max-num-batched-tokens", "8192", "--sim-prefill-tps", "10000"]

    def test_one_long_prompt_takes_its_tokens_over_the_prefill_rate(self) -> None:
        (alone,) = run_engine(self.FLAGS, [ids(0, 10_000)])
        self.assertAlmostEqual(alone.writes[0], 1.0)  # chunks of 8192 and 1808 tokens at 10,000 tokens/s

    def test_two_simultaneous_long_prompts_share_each_step(self) -> None:
        # Step 1: A 8192. Step 2: A's last 1808, B 6384 (A's first token at 1.6384 s). Step 3: A decodes one token,
        # B its last 3616: B's first token at 2.0 s, twice its time alone.
        a, b = run_engine(self.FLAGS, [ids(0, 10_000), ids(20_000, 10_000)])
        self.assertAlmostEqual(a.writes[0], 1.6384)
        self.assertAlmostEqual(b.writes[0], 2.0)

    def test_sim_ttft_ms_is_a_fixed_overhead_after_the_prefill(self) -> None:
        a, b = run_engine([*self.FLAGS, "--sim-ttft-ms", "50"], [ids(0, 10_000), ids(20_000, 10_000)])
        self.assertAlmostEqual(a.writes[0], 1.6384 + 0.05)
        self.assertAlmostEqual(b.writes[0], 2.0 + 0.05)

    def test_a_cached_prefix_is_not_computed_again(self) -> None:
        (first,) = run_engine(self.FLAGS, [ids(0, 10_000)])
        a, b = run_engine(self.FLAGS, [ids(0, 10_000), ids(0, 10_000)])
        # vLLM caches blocks when it schedules them: B, admitted in step 2 after A's last chunk, finds all of A's
        # 625 blocks but the last (its final token is computed): 624 blocks, 9984 tokens. Step 2 computes A's 1808
        # and B's 16 tokens; both first tokens come at its end.
        self.assertAlmostEqual(a.writes[0], 0.8192 + 0.1824)
        self.assertAlmostEqual(b.writes[0], 0.8192 + 0.1824)
        self.assertAlmostEqual(first.writes[0], 1.0)

    def test_running_out_of_blocks_preempts_the_latest_request_which_resumes_when_room_is_back(self) -> None:
        # 4 blocks of 16; two 16-token prompts each growing to 56 tokens (4 blocks): B, admitted last, is preempted
        # when A needs its blocks, then recomputed (finding its own blocks cached) and finished after A.
        a, b = run_engine(["--max-model-len", "64", "--sim-kv-tokens", "64", "--sim-itl-ms", "10"],
                          [ids(0, 16), ids(100, 16)], max_tokens=40)
        self.assertEqual((len(a.writes), len(b.writes)), (40, 40))
        assert a.ended_at is not None and b.ended_at is not None
        self.assertLess(a.ended_at, b.writes[-10])


if __name__ == "__main__":
    unittest.main()

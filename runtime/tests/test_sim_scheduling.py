"""max-num-seqs queueing, client disconnects and the latency model, observed through /metrics and the streams."""

from __future__ import annotations

import json
import time
import unittest

from .support import Sim, chat, wait_until


class SchedulingTest(unittest.TestCase):
    def test_max_num_seqs_queues_fifo_and_disconnect_frees_the_slot_at_once(self) -> None:
        with Sim("--max-num-seqs", "2", "--sim-itl-ms", "40", "--sim-mode", "lorem") as sim:
            body = chat("x", max_tokens=500, ignore_eos=True, stream=True)
            streams = [sim.open_stream(body) for _ in range(4)]
            try:
                for s in streams[:2]:
                    self.assertIsNotNone(s.next_frame())
                wait_until(lambda: sim.gauge("vllm:num_requests_running") == 2
                           and sim.gauge("vllm:num_requests_waiting") == 2)
                # The queued ones have headers but no tokens yet.
                for s in streams[2:]:
                    self.assertEqual(s.status, 200)
                streams[0].close()
                # The first waiting request (FIFO) takes the freed slot; the other still waits.
                self.assertIsNotNone(streams[2].next_frame(timeout=3))
                self.assertEqual(sim.gauge("vllm:num_requests_running"), 2)
                self.assertEqual(sim.gauge("vllm:num_requests_waiting"), 1)
                for s in streams[1:]:
                    s.close()
                wait_until(lambda: sim.gauge("vllm:num_requests_running") == 0
                           and sim.gauge("vllm:num_requests_waiting") == 0)
                metrics = sim.metrics()
                self.assertEqual(metrics['vllm:request_success_total{finished_reason="abort",model_name="test-model"}'],
                                 4)
                self.assertGreater(metrics['vllm:request_queue_time_seconds_sum{model_name="test-model"}'], 0.0)
            finally:
                for s in streams:
                    s.close()

    def test_running_count_drops_as_soon_as_the_client_disconnects(self) -> None:
        with Sim("--sim-itl-ms", "200") as sim:
            stream = sim.open_stream(chat("a b c d e f g h", stream=True))
            self.assertIsNotNone(stream.next_frame())
            self.assertEqual(sim.gauge("vllm:num_requests_running"), 1)
            stream.close()
            start = time.monotonic()
            wait_until(lambda: sim.gauge("vllm:num_requests_running") == 0, timeout=2, interval=0.005)
            self.assertLess(time.monotonic() - start, 0.19, "the slot must free before the next token is due")

    def test_latency_model_and_metric_values(self) -> None:
        with Sim("--sim-ttft-ms", "100", "--sim-itl-ms", "30") as sim:
            started = time.monotonic()
            stream = sim.open_stream(chat("one two three four five six", stream=True,
                                          stream_options={"include_usage": True}))
            try:
                first = stream.next_frame()
                ttft = time.monotonic() - started
                frames = [first, *stream.frames()]
            finally:
                stream.close()
            total = time.monotonic() - started
            self.assertGreaterEqual(ttft, 0.09)
            self.assertGreaterEqual(total, 0.1 + 5 * 0.03 - 0.02)
            usage = json.loads(frames[-2])["usage"]
            metrics = sim.metrics()
            lbl = '{model_name="test-model"}'
            self.assertEqual(metrics[f"vllm:generation_tokens_total{lbl}"], usage["completion_tokens"])
            self.assertEqual(metrics[f"vllm:prompt_tokens_total{lbl}"], usage["prompt_tokens"])
            self.assertEqual(metrics[f"vllm:time_to_first_token_seconds_count{lbl}"], 1)
            self.assertGreaterEqual(metrics[f"vllm:time_to_first_token_seconds_sum{lbl}"], 0.1)
            self.assertEqual(metrics[f"vllm:inter_token_latency_seconds_count{lbl}"], 5)
            self.assertGreaterEqual(metrics[f"vllm:inter_token_latency_seconds_sum{lbl}"], 5 * 0.03 - 0.01)
            self.assertEqual(metrics['vllm:request_success_total{finished_reason="stop",model_name="test-model"}'], 1)
            self.assertEqual(metrics[f"vllm:e2e_request_latency_seconds_count{lbl}"], 1)


if __name__ == "__main__":
    unittest.main()

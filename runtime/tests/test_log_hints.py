"""Details and hints an operator can act on (issue 17): vLLM's own numbers, the message rather than the source line
that raised it, the repo id, and "free the GPU" when no GPU_MEMORY_UTILIZATION can work."""

from __future__ import annotations

import os
import tempfile
import unittest

from llm_runtime.log_hints import ModelFacts
from llm_runtime.log_parser import VllmLogParser
from llm_runtime.model_weights import weights_gib

# The message quoted in issue 17 (a user's post, vLLM V1 with the "(EngineCore_DP0 pid=N)" prefix).
V1_KV_CACHE = (
    "(EngineCore_DP0 pid=494) ValueError: To serve at least one request with the models's max seq len (262144), "
    "(36.0 GiB KV cache is needed, which is larger than the available KV cache memory (6.94 GiB). Based on the "
    "available memory, the estimated maximum model length is 50512. Try increasing `gpu_memory_utilization` or "
    "decreasing `max_model_len` when initializing the engine. See "
    "https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details."
)
BUSY = ("(EngineCore_DP0 pid=9) ValueError: Free memory on device cuda:0 ({free}/79.19 GiB) on startup is less than "
        "desired GPU memory utilization (0.97, 76.81 GiB). Decrease GPU memory utilization or reduce GPU memory used "
        "by other processes.")


def fatal_of(lines: list[str], exit_code: int = 1, facts: ModelFacts | None = None) -> dict[str, str]:
    parser = VllmLogParser(facts)
    events = [e for line in lines for e in parser.feed(line)]
    final = parser.conclude(exit_code)
    fatal = [e for e in [*events, final] if e is not None and e["event"] == "fatal"]
    assert len(fatal) == 1, fatal
    return fatal[0]


class HintTest(unittest.TestCase):
    def test_v1_kv_cache_message_uses_vllms_own_estimate(self) -> None:
        event = fatal_of([V1_KV_CACHE, "(APIServer pid=1) RuntimeError: Engine core initialization failed. See root "
                                       "cause above. Failed core proc(s): {}"])
        self.assertEqual(event["reason"], "kv_cache_oom")
        self.assertIn("set MAX_MODEL_LEN to 50512 or less, or raise GPU_MEMORY_UTILIZATION / TENSOR_PARALLEL_SIZE",
                      event["hint"])
        self.assertIn("max seq len (262144)", event["detail"])

    def test_gpu_busy_says_free_the_gpu_when_the_weights_cannot_fit(self) -> None:
        # 4.5 GiB free: GPU_MEMORY_UTILIZATION=0.04 would be the arithmetic, but an 8x7B model has ~87 GiB of weights.
        event = fatal_of([BUSY.format(free="3.50")])
        self.assertIn("free the GPU", event["hint"])
        self.assertIn("will not help", event["hint"])
        self.assertNotIn("GPU_MEMORY_UTILIZATION=0.03", event["hint"])
        known = fatal_of([BUSY.format(free="40.00")], facts=ModelFacts(weights_gib=87.0, gpus_per_replica=1))
        self.assertIn("cannot hold this model's 87.0 GiB of weights per GPU", known["hint"])
        fits = fatal_of([BUSY.format(free="40.00")], facts=ModelFacts(weights_gib=15.0, gpus_per_replica=1))
        self.assertIn("set GPU_MEMORY_UTILIZATION=0.49 or lower", fits["hint"])
        split = fatal_of([BUSY.format(free="40.00")], facts=ModelFacts(weights_gib=87.0, gpus_per_replica=4))
        self.assertIn("GPU_MEMORY_UTILIZATION=0.49 or lower", split["hint"], "87 GiB over 4 GPUs fits in 38 GiB")

    def test_the_detail_is_the_message_not_the_source_line_that_raised_it(self) -> None:
        event = fatal_of([
            '(EngineCore_DP0 pid=7) ERROR 11-02 13:44:31 [core.py:708]   File "/x/kv_cache_utils.py", line 6, in f',
            '(EngineCore_DP0 pid=7) ERROR 11-02 13:44:31 [core.py:708]     raise ValueError("No available memory for '
            'the cache blocks. "',
            '(EngineCore_DP0 pid=7) ERROR 11-02 13:44:31 [core.py:708]         "No available memory for the cache '
            'blocks. "',
            "(EngineCore_DP0 pid=7) ERROR 11-02 13:44:31 [core.py:708] ValueError: No available memory for the cache "
            "blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
        ])
        self.assertEqual(event["reason"], "kv_cache_oom")
        self.assertTrue(event["detail"].startswith("ValueError: No available memory"), event["detail"])

    def test_repo_not_found_names_the_repo(self) -> None:
        event = fatal_of([
            "(APIServer pid=1) huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. (Request ID: x)",
            "(APIServer pid=1) Repository Not Found for url: https://huggingface.co/acme/no-such-model/resolve/main/"
            "config.json.",
        ])
        self.assertEqual(event["reason"], "model_not_found")
        self.assertIn("(repo acme/no-such-model)", event["detail"])
        self.assertIn("MODEL_ID=acme/no-such-model", event["hint"])

    def test_weights_are_measured_from_a_folder_or_the_hub_cache(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            snapshot = os.path.join(tmp, "hub", "models--acme--m", "snapshots", "abc")
            os.makedirs(snapshot)
            for name, size in (("model-00001-of-00002.safetensors", 3 << 20), ("model-00002-of-00002.safetensors",
                                                                                 1 << 20), ("config.json", 100)):
                with open(os.path.join(snapshot, name), "wb") as f:
                    f.truncate(size)
            env = {"HF_HUB_CACHE": os.path.join(tmp, "hub")}
            self.assertAlmostEqual(weights_gib("acme/m", env) or 0, 4 / 1024)
            self.assertAlmostEqual(weights_gib(snapshot, {}) or 0, 4 / 1024)
            self.assertIsNone(weights_gib("acme/other", env))
            self.assertIsNone(weights_gib(None, env))


if __name__ == "__main__":
    unittest.main()

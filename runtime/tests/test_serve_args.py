"""Reading the vLLM serve command line: engine choice, flag forms, and clear errors for bad input."""

from __future__ import annotations

import unittest

from llm_runtime.serve_args import UsageError, parse_int, parse_serve_args, split_engine
from llm_runtime.sim.options import SIM_FLAGS, parse_sim_options

# Exactly what the TypeScript command builder emits after `vllm serve`.
BUILDER_ARGS = ["meta-llama/Meta-Llama-3.1-8B-Instruct", "--served-model-name", "llama", "--host", "127.0.0.1",
                "--port", "8011", "--tensor-parallel-size", "2", "--pipeline-parallel-size", "1", "--max-model-len",
                "8192", "--max-num-batched-tokens", "8192", "--max-num-seqs", "128", "--gpu-memory-utilization",
                "0.97", "--quantization", "bitsandbytes", "--download-dir", "/models", "--distributed-executor-backend",
                "ray", "--disable-uvicorn-access-log"]


class SplitEngineTest(unittest.TestCase):
    def test_flag_env_and_errors(self) -> None:
        self.assertEqual(split_engine(["--engine", "sim", "m"], {}), ("sim", ["m"]))
        self.assertEqual(split_engine(["m", "--engine=vllm"], {"LLM_RUNTIME_ENGINE": "sim"}), ("vllm", ["m"]))
        self.assertEqual(split_engine(["m"], {"LLM_RUNTIME_ENGINE": "vllm"}), ("vllm", ["m"]))
        with self.assertRaisesRegex(UsageError, "no engine chosen"):
            split_engine(["m"], {})
        with self.assertRaisesRegex(UsageError, r"--engine is 'gpu'; use one of: vllm, sim"):
            split_engine(["--engine", "gpu"], {})
        with self.assertRaisesRegex(UsageError, r"\$LLM_RUNTIME_ENGINE is 'x'"):
            split_engine([], {"LLM_RUNTIME_ENGINE": "x"})
        with self.assertRaisesRegex(UsageError, "needs a value"):
            split_engine(["--engine"], {})


class ParseServeArgsTest(unittest.TestCase):
    def test_builder_args(self) -> None:
        args = parse_serve_args(BUILDER_ARGS)
        self.assertEqual(args.model, "meta-llama/Meta-Llama-3.1-8B-Instruct")
        self.assertEqual(args.get("--tensor-parallel-size"), "2")
        self.assertEqual(args.get("--disable-uvicorn-access-log"), "true")
        self.assertEqual(args.get_all("--served-model-name"), ["llama"])

    def test_forms(self) -> None:
        args = parse_serve_args(["--max_model_len=4096", "-tp", "4", "--no-enable-prefix-caching", "--seed", "-1",
                                 "--served-model-name", "a", "b", "--compilation-config.level", "3", "--model", "m"])
        self.assertEqual(args.get("--max-model-len"), "4096")
        self.assertEqual(args.get("--tensor-parallel-size"), "4")
        self.assertEqual(args.get("--enable-prefix-caching"), "false")
        self.assertEqual(args.get("--seed"), "-1")
        self.assertEqual(args.get_all("--served-model-name"), ["a", "b"])
        self.assertEqual(args.model, "m")

    def test_errors(self) -> None:
        with self.assertRaisesRegex(UsageError, r"unknown flag --max-num-seq \(did you mean --max-num-seqs\?\)"):
            parse_serve_args(["--max-num-seq", "4"])
        with self.assertRaisesRegex(UsageError, "unknown flag --sim-ttft-ms"):
            parse_serve_args(["--sim-ttft-ms", "4"])
        with self.assertRaisesRegex(UsageError, "--port needs a value"):
            parse_serve_args(["--port"])
        with self.assertRaisesRegex(UsageError, "takes no value"):
            parse_serve_args(["--enforce-eager=yes"])
        with self.assertRaisesRegex(UsageError, "one positional model only"):
            parse_serve_args(["a", "b"])
        self.assertEqual(parse_serve_args(["--sim-ttft-ms", "4"], SIM_FLAGS).get("--sim-ttft-ms"), "4")

    def test_human_numbers(self) -> None:
        self.assertEqual(parse_int("--max-model-len", "1k", 0, 1, human=True), 1000)
        self.assertEqual(parse_int("--max-model-len", "1K", 0, 1, human=True), 1024)
        self.assertEqual(parse_int("--max-model-len", "25.6k", 0, 1, human=True), 25600)
        with self.assertRaisesRegex(UsageError, "at least 1"):
            parse_int("--max-num-seqs", "0", 0, 1)


class SimOptionsTest(unittest.TestCase):
    def test_defaults_and_builder_args(self) -> None:
        opts = parse_sim_options(BUILDER_ARGS, {"VLLM_API_KEY": "k"})
        self.assertEqual((opts.model_name, opts.port, opts.max_num_seqs, opts.api_key), ("llama", 8011, 128, "k"))
        self.assertEqual(parse_sim_options(["--api-key", "flag"], {"VLLM_API_KEY": "env"}).api_key, "flag")
        self.assertIsNone(parse_sim_options([], {}).api_key)

    def test_knob_rules(self) -> None:
        bad = {("--sim-error-rate", "1.5"): "between 0.0 and 1.0", ("--sim-crash-after", "0"): "at least 1",
               ("--sim-mode", "poetry"): "echo, lorem", ("--sim-itl-ms", "-1"): "at least 0.0",
               ("--gpu-memory-utilization", "1.2"): "between 0.0 and 1.0"}
        for (flag, value), message in bad.items():
            with self.subTest(flag=flag), self.assertRaisesRegex(UsageError, message):
                parse_sim_options([flag, value], {})


if __name__ == "__main__":
    unittest.main()

"""What the vLLM log parser looks for: line shapes, readiness lines, and the table of root causes.

Wordings are checked against real output that users posted (runtime/tests/fixtures/real/, each file names its
source): vLLM 0.8-0.10 V1 ("(EngineCore_0 pid=N)"), 0.11-0.19 ("(EngineCore_DP0 pid=N)", "Starting vLLM API server 0
on"), 0.2x-0.31 ("(EngineCore pid=N)", "Starting vLLM server on", "Free memory on device cuda:0 (…)").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\^\[\[[0-9;]*m")  # real escapes, and "^[[0;36m" as pasted from a terminal
PREFIX = re.compile(r"^\((?:[^()]*\bpid=\d+[^()]*)\)\s?")
HEADER = re.compile(
    r"^(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\s+\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?\s+\[?[^\]\s]*\]\s*"
    # Python logging's default format, used when vLLM runs inside another program's logging setup
    r"|^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d+ - [\w.]+ - [A-Z]+ - "
)
UVICORN = re.compile(r"^(?:INFO|WARNING|ERROR|DEBUG|CRITICAL):\s+")
SHARDS = re.compile(
    r"^(?:Loading \w+ checkpoint shards|Multi-thread loading shards):\s*(\d+)% Completed\s*\|\s*(\d+)/(\d+)"
)
CUDA_GRAPHS = re.compile(r"^(Capturing CUDA graphs[^:]*):\s*100%.*?(\d+)/(\d+)")
MILESTONES = (
    re.compile(r"^Starting to load model .*"),
    re.compile(r"^Loading weights took .*"),
    re.compile(r"^Model loading took .*"),
    re.compile(r"^Available KV cache memory: .*"),
    re.compile(r"^GPU KV cache size: .*"),
    re.compile(r"^Graph capturing finished .*"),
    re.compile(r"^init engine .* took .*"),
)
# Lines that say the HTTP server is about to serve. A hint only: uvicorn's line disappears with
# --uvicorn-log-level warning and vLLM's with VLLM_LOGGING_LEVEL=WARNING; the supervisor's HTTP probe decides.
#   uvicorn:        "Application startup complete."
#   vLLM 0.10:      "Starting vLLM server on http://…"      (0.2x-0.31 print this again)
#   vLLM 0.11-0.19: "Starting vLLM API server 0 on http://…"
READY = re.compile(r"^(?:Application startup complete\.|Starting vLLM (?:API )?server (?:\d+ )?on \S+)")
# A request answered over HTTP (uvicorn's access log): the server was serving, whatever else was printed.
SERVED = re.compile(r'"(?:GET|POST|PUT|DELETE|HEAD|OPTIONS) /\S* HTTP/[\d.]+" [1-4]\d\d\b')
# The engine core died under a running server: whatever the exit code, this is a death while serving.
DIED_SERVING = re.compile(r"EngineDeadError|AsyncLLM output_handler failed|Engine core proc \S+ died unexpectedly")
# The summary line after a failed engine start; the real cause was printed above it.
FAILED_SUMMARY = re.compile(r"Engine core initialization failed")
# Traceback source lines and code continuation lines: they quote an error's text but are not the message.
SOURCE_LINE = re.compile(r"""^\s*(?:raise\b|return\b|File "|f?["']|[~^]+\s*$)""")
EXCEPTION_LINE = re.compile(r"^\s*(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception): .+")
# A traceback frame's header; the line after it is that frame's source, never a message.
FRAME = re.compile(r'^\s*File "[^"]*", line \d+')
# The statement that raised, when its exception's text is a string literal: `raise ValueError("No available …"`
# (group 2: what follows the parenthesis). Python 3.13 prints the whole statement, so the literal may go on over the
# next lines; an excerpt cut before the final `ValueError: …` line still names the failure here.
RAISE_CALL = re.compile(r"^\s*raise\s+((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception))\((.*)$")
# One string literal of that statement (implicit concatenation puts one on each line), maybe closing the call.
STRING_PIECE = re.compile(r"""^\s*([rRfF]{0,2})(["'])(.*?)\2\s*(\)?)\s*$""")
# Python 3.13's "...<3 lines>..." where it leaves out the middle of a long statement.
ELIDED = re.compile(r"^\s*\.\.\.<\d+ lines?>\.\.\.\s*$")
# A rule this strong names the failure itself; weaker ones (an exception's name, a pointer) say nothing when read
# from a `raise` statement.
KNOWN_CAUSE_RANK = 2
# An exception after other text (a CI timestamp, a wrapper's prefix): the detail starts at the exception's name.
EXCEPTION_IN_LINE = re.compile(r"(?:^|\s)((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception): .+)")
# Where a Hugging Face repo id shows up in download errors (the id is what the operator has to check).
REPO_IDS = (
    re.compile(r"huggingface\.co/(?!docs/|api/|settings/)([\w-][\w.-]*/[\w-][\w.-]*?)/(?:resolve|tree|blob)/"),
    re.compile(r"Access to model (\S+?) is restricted"),
    re.compile(r"Repo model (\S+?) is gated"),
    re.compile(r"Invalid repository ID or local directory specified: '([^']+)'"),
    re.compile(r"^(\S+) is not a local folder and is not a valid model identifier"),
)
BAD_TOKEN = re.compile(r"Invalid (?:username or password|user token|credentials)")


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    reason: str
    rank: int  # higher = closer to the root cause; ties go to an exception line, then to the earliest line
    detail: Callable[[re.Match[str], str], str] | None = None


def _group1(m: re.Match[str], _message: str) -> str:
    return m.group(1).strip()


RULES: tuple[Rule, ...] = (
    Rule(re.compile(r"^(?:[\w.]+\.)?OutOfMemoryError: "), "cuda_oom", 3),
    Rule(re.compile(r"Free memory on device .* is less than desired GPU memory utilization"), "gpu_memory_busy", 3),
    Rule(re.compile(r"No available memory for the cache blocks"), "kv_cache_oom", 3),
    # V0: "The model's max seq len (N) is larger than the maximum number of tokens that can be stored in KV cache (M)"
    Rule(re.compile(r"larger than the maximum number of tokens that can be stored in KV cache"), "kv_cache_oom", 3),
    # V1 (0.8 → 0.31): "To serve at least one request with the models's max seq len (N), (X GiB KV cache is needed,
    # which is larger than the available KV cache memory (Y GiB). Based on the available memory, the estimated
    # maximum model length is M. …" ("models's" became "model's" in 2026 releases).
    Rule(re.compile(r"To serve at least one request with the models?'s max seq len"), "kv_cache_oom", 3),
    Rule(re.compile(r"Access to model \S+ is restricted"), "model_access", 3),
    Rule(re.compile(r"Value error, (.*?)(?: \[type=|$)"), "bad_config", 3, _group1),
    Rule(re.compile(r"must be divisible by (?:tensor|pipeline) parallel size"), "bad_config", 3),
    Rule(re.compile(r"max_num_batched_tokens \(\d+\) must be greater than or equal to"), "bad_config", 3),
    Rule(re.compile(r"is greater than the derived max_model_len"), "bad_config", 3),
    Rule(re.compile(r"World size \(\d+\) is (?:larger|greater) than"), "bad_config", 3),
    Rule(re.compile(r"error: (?:unrecognized arguments|argument \S+: )"), "bad_config", 3),
    Rule(
        re.compile(
            r"RepositoryNotFoundError|Repository Not Found|is not a local folder and is not a valid model identifier"
            r"|does not appear to have a file named config\.json|Invalid repository ID or local directory"
            r"|No such file or directory: .*config\.json"
        ),
        "model_not_found",
        3,
    ),
    Rule(
        re.compile(
            r"No CUDA GPUs are available|Found no NVIDIA driver|Failed to infer device type"
            r"|CUDA driver initialization failed|no CUDA-capable device is detected|has no GPU available"
        ),
        "no_gpu",
        3,
    ),
    Rule(re.compile(r"Address already in use"), "engine_error", 3),
    Rule(re.compile(r"NCCL error"), "engine_error", 2),
    Rule(re.compile(r"Engine core proc \S+ died unexpectedly"), "engine_error", 1),
    Rule(
        re.compile(r"GatedRepoError|Cannot access gated repo|40[13] Client Error|Invalid user token|gated repo"),
        "model_access",
        2,
    ),
    Rule(re.compile(r"CUDA out of memory"), "cuda_oom", 2),
    Rule(re.compile(r"ValidationError: \d+ validation errors? for \w+"), "bad_config", 2),
    # Pointers to a cause printed elsewhere: used only when nothing better was seen.
    Rule(
        re.compile(r"EngineDeadError|See stack trace \(above\)|See stack trace for (?:the )?root cause"),
        "engine_error",
        0,
    ),
    Rule(EXCEPTION_LINE, "engine_error", 1),
)

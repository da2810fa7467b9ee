"""python3 -m llm_runtime --engine vllm|sim <vllm serve args...>"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from . import lifecycle, supervisor_watch
from .serve_args import UsageError, split_engine

USAGE = """usage: python3 -m llm_runtime --engine vllm|sim [MODEL] [vllm serve flags...]

  --engine vllm   preflight (model folder, GPUs), then run `vllm serve` with the flags and report its lifecycle
  --engine sim    a vLLM-compatible simulator (no GPU) that honours the same flags plus --sim-* knobs
  $LLM_RUNTIME_ENGINE chooses the engine when --engine is absent. See runtime/README.md.
"""


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if env is None else env
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE, end="")
        return 0
    try:
        engine, rest = split_engine(args, environ)
    except UsageError as err:
        print(f"llm_runtime: {err}\n\n{USAGE}", file=sys.stderr, end="", flush=True)
        lifecycle.Emitter().emit(lifecycle.fatal("bad_config", str(err), lifecycle.USAGE_HINT))
        return 2
    try:
        supervisor_watch.start(environ)
    except UsageError as err:
        print(f"llm_runtime: {err}", file=sys.stderr, flush=True)
        lifecycle.Emitter().emit(lifecycle.fatal("bad_config", str(err), lifecycle.USAGE_HINT))
        return 2
    if engine == "vllm":
        from .vllm_launcher import run as run_vllm

        return run_vllm(rest, environ)
    from .sim.main import run as run_sim

    return run_sim(rest, environ)


if __name__ == "__main__":
    sys.exit(main())

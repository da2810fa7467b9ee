"""Reads a `vllm serve` command line (the flags `llm-runner flags` emits) the way vLLM's argparse parser would."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .serve_flags import BOOLEAN_FLAGS, MULTI_VALUE_FLAGS, NEWER_SERVE_FLAGS, SERVE_FLAGS, SHORT_ALIASES

ENGINES = ("vllm", "sim")
ENGINE_ENV = "LLM_RUNTIME_ENGINE"


class UsageError(Exception):
    """A bad command line; the message says what was wrong and how to fix it. Exit code 2."""


def split_engine(argv: Sequence[str], env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Takes --engine out of argv (the flag wins over $LLM_RUNTIME_ENGINE) and returns (engine, the other args)."""
    engine: str | None = None
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--engine":
            if i + 1 >= len(argv):
                raise UsageError("--engine needs a value: --engine vllm or --engine sim")
            engine = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--engine="):
            engine = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    if engine is None:
        engine = env.get(ENGINE_ENV, "").strip() or None
        source = f"${ENGINE_ENV}"
    else:
        source = "--engine"
    if engine is None:
        raise UsageError(f"no engine chosen: pass --engine vllm|sim or set {ENGINE_ENV}=vllm|sim")
    if engine not in ENGINES:
        raise UsageError(f"{source} is {engine!r}; use one of: {', '.join(ENGINES)}")
    return engine, rest


@dataclass
class ServeArgs:
    """model: the positional model (or --model); values: long flag -> its values (the last occurrence wins)."""

    model: str | None = None
    values: dict[str, list[str]] = field(default_factory=dict)

    def get(self, flag: str) -> str | None:
        vals = self.values.get(flag)
        return vals[-1] if vals else None

    def get_all(self, flag: str) -> list[str]:
        return list(self.values.get(flag, []))

    def has(self, flag: str) -> bool:
        return flag in self.values


def _canonical(flag: str) -> str:
    # argparse accepts --max_model_len as well as --max-model-len.
    return "--" + flag[2:].replace("_", "-") if flag.startswith("--") else flag


def _suggest(flag: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(flag, known, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def parse_serve_args(argv: Sequence[str], own_flags: Mapping[str, bool] | None = None) -> ServeArgs:
    """Parses vLLM serve arguments. own_flags: extra flags this runtime understands (name -> takes a value).

    Unknown flags raise UsageError naming the flag, so a typo never passes silently.
    """
    own = dict(own_flags or {})
    known = SERVE_FLAGS | NEWER_SERVE_FLAGS | frozenset(own)
    out = ServeArgs()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            if out.model is not None:
                raise UsageError(
                    f"unexpected argument {arg!r}: the model is already {out.model!r} (one positional model only)"
                )
            out.model = arg
            continue
        inline: str | None = None
        if arg.startswith("--") and "=" in arg:
            arg, inline = arg.split("=", 1)
        flag = SHORT_ALIASES.get(arg, _canonical(arg))
        base = flag.split(".", 1)[0]  # dotted form: --compilation-config.level 3
        if flag not in known and base not in known:
            raise UsageError(
                f"unknown flag {arg}{_suggest(flag, sorted(known))}: it is neither a `vllm serve` flag nor one of "
                f"this runtime's own flags ({', '.join(sorted(own)) or 'none'})"
            )
        if flag in BOOLEAN_FLAGS or own.get(flag) is False:
            if inline is not None:
                raise UsageError(f"{flag} takes no value (got {flag}={inline})")
            if flag.startswith("--no-"):
                out.values[_canonical("--" + flag[len("--no-") :])] = ["false"]
            else:
                out.values[flag] = ["true"]
            continue
        if inline is not None:
            values = [inline]
        else:
            values = []
            # Like argparse: a value may look like a negative number (--seed -1), never like another flag.
            while i < len(argv) and (not values or flag in MULTI_VALUE_FLAGS):
                if argv[i].startswith("-") and not _NUMBER.match(argv[i]):
                    break
                values.append(argv[i])
                i += 1
            if not values:
                raise UsageError(f"{flag} needs a value")
        if flag == "--model":
            out.model = values[-1]
            continue
        out.values[flag] = values
    return out


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_HUMAN_INT = re.compile(r"^(\d+(?:\.\d+)?)([kKmMgG]?)$")
_SCALE = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_int(flag: str, value: str | None, default: int, minimum: int, human: bool = False) -> int:
    """An integer flag value; human=True also takes vLLM's 1k (1000) / 1K (1024) / 25.6k / 2M forms."""
    if value is None:
        return default
    m = _HUMAN_INT.match(value.strip()) if human else None
    try:
        number = int(float(m.group(1)) * _SCALE[m.group(2)]) if m else int(value)
    except ValueError:
        raise UsageError(f"{flag} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise UsageError(f"{flag} must be at least {minimum}, got {number}")
    return number


def parse_float(flag: str, value: str | None, default: float, minimum: float, maximum: float | None = None) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"{flag} must be a number, got {value!r}") from None
    if number != number or number < minimum or (maximum is not None and number > maximum):
        rule = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise UsageError(f"{flag} must be {rule}, got {value}")
    return number

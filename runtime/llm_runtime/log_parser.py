"""Turns vLLM server output into lifecycle events: weight-loading progress, start-up milestones, ready, fatal causes.

Lines may carry a process prefix ("(EngineCore_DP0 pid=42) ", "(Worker_TP0 pid=7) ", "(APIServer pid=1) ") and a log
header ("INFO 11-02 09:14:02 [core.py:74] "); tqdm bars arrive as bare lines. A fatal start prints the root cause
first and a summary ("Engine core initialization failed. See root cause above.") last, so causes are ranked and the
best one is reported when the summary line appears or the process exits. The patterns live in log_rules.py, the
fixes in log_hints.py.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from . import lifecycle
from .log_hints import ModelFacts, died_after_ready_hint, hint_for
from .log_rules import (
    ANSI,
    BAD_TOKEN,
    CUDA_GRAPHS,
    DIED_SERVING,
    EXCEPTION_IN_LINE,
    ELIDED,
    EXCEPTION_LINE,
    FAILED_SUMMARY,
    FRAME,
    HEADER,
    KNOWN_CAUSE_RANK,
    MILESTONES,
    PREFIX,
    RAISE_CALL,
    READY,
    REPO_IDS,
    RULES,
    SERVED,
    SHARDS,
    SOURCE_LINE,
    STRING_PIECE,
    UVICORN,
    Rule,
)

_MAX_DETAIL = 600
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


class _RaiseStatement:
    """A traceback's `raise Name("literal" …` statement, read piece by piece while its string literals go on."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pieces: list[str] = []
        self.open = True  # the call's parenthesis is not closed yet: more pieces may follow

    def add(self, text: str) -> bool:
        """Reads one piece of the statement; False when the text is not a string literal of it."""
        if ELIDED.match(text):
            self.pieces.append("…")
            return True
        m = STRING_PIECE.match(text)
        if not m:
            return False
        prefix, _quote, body, closing = m.groups()
        # An f-string's {expressions} are code, not text: the exception line, when it comes, has their values.
        self.pieces.append(_PLACEHOLDER.sub("…", body) if "f" in prefix.lower() else body)
        self.open = not closing
        return True

    @property
    def message(self) -> str:
        return f"{self.name}: {''.join(self.pieces).strip()}"


def strip_line(raw: str) -> str:
    """The message of one output line, without colour codes, process prefixes and the log header."""
    line = ANSI.sub("", raw).rstrip("\r\n")
    while True:
        m = PREFIX.match(line)
        if not m:
            break
        line = line[m.end() :]
    line = HEADER.sub("", line, count=1)
    return UVICORN.sub("", line, count=1)


class VllmLogParser:
    """Feed it every output line; it returns the lifecycle events each line implies."""

    def __init__(self, facts: ModelFacts | None = None) -> None:
        self.facts = facts or ModelFacts()
        self.progress: float | None = None
        self.ready = False
        self.fatal_emitted = False
        self._last_detail: str | None = None
        self._best: tuple[tuple[int, bool], str, str] | None = None  # ((rank, exception line), reason, detail)
        self._recent: deque[str] = deque(maxlen=5)
        self._repo: str | None = None
        self._bad_token = False
        self._died_serving = False
        self._frame_source = False  # the next line is a traceback frame's source line
        self._raising: _RaiseStatement | None = None  # a `raise` whose string literal may go on over the next lines
        self._best_raise: _RaiseStatement | None = None  # the statement that gave _best, while its text grows

    def feed(self, raw: str) -> list[dict[str, Any]]:
        message = strip_line(raw)
        if not message.strip():
            return []
        self._recent.append(message.strip())
        self._note_facts(message)
        events: list[dict[str, Any]] = []
        if not self.ready:
            events.extend(self._loading(message))
            if READY.match(message) or SERVED.search(message):
                self.ready = True
                if READY.match(message):
                    self._best = None  # causes seen before a good start are not why it dies later
                    self._best_raise = None
                events.append(lifecycle.ready(message.strip()))
                return events
        self._rank_cause(message)
        if FAILED_SUMMARY.search(message) and not self.ready:
            fatal = self._fatal_event(message.strip())
            if fatal:
                events.append(fatal)
        return events

    def conclude(self, exit_code: int | None) -> dict[str, Any] | None:
        """The fatal event for an engine that exited on its own with exit_code (None: unknown), whatever the code,
        unless one was already given. Call it only when nobody asked the engine to stop."""
        if self.fatal_emitted:
            return None
        last = self._recent[-1] if self._recent else "(no output)"
        code = "an unknown code" if exit_code is None else f"code {exit_code}"
        if self.ready or self._died_serving:
            return self._died_while_serving(code, last)
        unasked = " without being asked to stop" if exit_code == 0 else ""
        return self._fatal_event(f"vllm serve exited with {code}{unasked} before it was ready; last output: {last}")

    def _died_while_serving(self, code: str, last: str) -> dict[str, Any]:
        self.fatal_emitted = True
        cause_reason = self._best[1] if self._best else None
        cause = self._best[2] if self._best else f"last output: {last}"
        detail = f"vLLM died while serving (exited with {code}, not asked to stop): {cause}"[:_MAX_DETAIL]
        return lifecycle.fatal("engine_error", detail, died_after_ready_hint(cause_reason, detail))

    def _fatal_event(self, fallback_detail: str) -> dict[str, Any] | None:
        if self.fatal_emitted:
            return None
        self.fatal_emitted = True
        reason, detail = ("engine_error", fallback_detail) if self._best is None else self._best[1:]
        if reason in ("model_not_found", "model_access") and self._repo and self._repo not in detail:
            detail = f"{detail} (repo {self._repo})"
        detail = detail[:_MAX_DETAIL]
        return lifecycle.fatal(reason, detail, hint_for(reason, detail, self.facts, bad_token=self._bad_token, repo=self._repo))

    def _note_facts(self, message: str) -> None:
        for pattern in REPO_IDS:
            m = pattern.search(message)
            if m:
                self._repo = m.group(1).rstrip(".")
                break
        if BAD_TOKEN.search(message):
            self._bad_token = True
        if DIED_SERVING.search(message):
            self._died_serving = True

    def _rank_cause(self, message: str) -> None:
        if self._read_source(message) or FAILED_SUMMARY.search(message) or SOURCE_LINE.match(message):
            return
        for rule in RULES:
            m = rule.pattern.search(message)
            if not m:
                continue
            exception = EXCEPTION_IN_LINE.search(message)
            score = (rule.rank, bool(EXCEPTION_LINE.match(message)))
            if self._best is None or score > self._best[0]:
                self._best = (score, rule.reason, _detail(rule, m, message, exception))
                self._best_raise = None
            return

    def _read_source(self, message: str) -> bool:
        """Reads traceback source lines: True when the line is source (a frame's line, a `raise` statement and the
        string literals that continue it), which never counts as a message except the literal a `raise` passes."""
        statement = self._raising
        if statement is not None and statement.open:
            if statement.add(message):
                self._rank_raise(statement)
                return True
        self._raising = None
        frame_source, self._frame_source = self._frame_source, bool(FRAME.match(message))
        if self._frame_source:
            return True
        m = RAISE_CALL.match(message)
        if m:
            statement = _RaiseStatement(m.group(1))
            rest = m.group(2).strip()
            if not rest or statement.add(rest):
                self._raising = statement
                self._rank_raise(statement)
            return True
        # A frame's source line quotes whatever the code holds (an `if "…" in str(err)`), but an exception line
        # may stand there when the frame has no source to show.
        return frame_source and not EXCEPTION_LINE.match(message)

    def _rank_raise(self, statement: _RaiseStatement) -> None:
        """A `raise` of a known failure's text counts as that failure; its exception line, when it comes, has the
        same rank and wins the tie (the values of the message are there)."""
        message = statement.message
        for rule in RULES:
            if rule.rank < KNOWN_CAUSE_RANK:
                continue
            m = rule.pattern.search(message)
            if not m:
                continue
            score = (rule.rank, False)
            if self._best is None or score > self._best[0] or self._best_raise is statement:
                self._best = (score, rule.reason, _detail(rule, m, message, EXCEPTION_IN_LINE.search(message)))
                self._best_raise = statement
            return

    def _loading(self, message: str) -> list[dict[str, Any]]:
        text = message.strip()
        m = SHARDS.match(text)
        if m:
            done, total = int(m.group(2)), int(m.group(3))
            progress = done / total if total > 0 else None
            return self._progress_event(progress, f"Loading safetensors checkpoint shards: {done}/{total}")
        m = CUDA_GRAPHS.match(text)
        if m:
            return self._progress_event(self.progress, f"{m.group(1)}: {m.group(2)}/{m.group(3)}")
        for pattern in MILESTONES:
            if pattern.match(text):
                return self._progress_event(self.progress, text)
        return []

    def _progress_event(self, progress: float | None, detail: str) -> list[dict[str, Any]]:
        # tqdm prints 100% twice (last update + close); report each state once.
        if detail == self._last_detail:
            return []
        self._last_detail = detail
        if progress is not None:
            self.progress = progress
        return [lifecycle.loading(self.progress, detail)]


def _detail(rule: Rule, m: re.Match[str], message: str, exception: re.Match[str] | None) -> str:
    if rule.detail:
        return rule.detail(m, message)
    return (exception.group(1) if exception else message).strip()

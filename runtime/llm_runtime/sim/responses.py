"""vLLM's response bodies and SSE frames. Frames are built from bytes encoded once per request, so a streamed token
costs one bytes join, not a json.dumps."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from . import responses_api
from .requests import Plan

DONE_FRAME = b"data: [DONE]\n\n"
_token_cache: dict[str, bytes] = {}


def encode_token(token: str) -> bytes:
    """The JSON string literal of a token; lorem and echo replies reuse a small vocabulary, so it is cached."""
    enc = _token_cache.get(token)
    if enc is None:
        enc = json.dumps(token, ensure_ascii=False).encode("utf-8")
        if len(_token_cache) < 100_000:
            _token_cache[token] = enc
    return enc


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def new_request_id(kind: str) -> str:
    prefix = {"chat": "chatcmpl-", "responses": "resp_"}.get(kind, "cmpl-")
    return prefix + os.urandom(16).hex()


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens + completion_tokens,
            "completion_tokens": completion_tokens}


def final_usage(plan: Plan, completion_tokens: int) -> dict[str, Any]:
    """The usage of a finished request. vLLM fills prompt_tokens_details only with --enable-prompt-tokens-details
    (off by default), then with cached_tokens even when it is 0 (vllm/entrypoints/openai/chat_completion/serving.py
    @ 006c49d4, _make_prompt_tokens_details); null otherwise, a field streamed chunks leave out (exclude_none).
    Continuous usage chunks never carry it."""
    out: dict[str, Any] = dict(usage(plan.prompt_tokens, completion_tokens))
    out["prompt_tokens_details"] = None if plan.cached_tokens is None else {"cached_tokens": plan.cached_tokens}
    return out


class StreamFrames:
    """The SSE frames of one streamed request."""

    __slots__ = ("plan", "request_id", "created", "_head", "_tok_prefix", "_tok_suffix", "_final_prefix")

    def __init__(self, plan: Plan, request_id: str, created: int) -> None:
        self.plan = plan
        self.request_id = request_id
        self.created = created
        chat = plan.kind == "chat"
        obj = "chat.completion.chunk" if chat else "text_completion"
        self._head = b'data: {"id":%s,"object":"%s","created":%d,"model":%s,"choices":[' % (
            _dumps(request_id), obj.encode(), created, _dumps(plan.model))
        self._tok_prefix = self._head + (b'{"index":0,"delta":{"content":' if chat else b'{"index":0,"text":')
        close = b"}" if chat else b""
        self._tok_suffix = close + b',"logprobs":null,"finish_reason":null}]}\n\n'
        self._final_prefix = close + b',"logprobs":null,"finish_reason":'

    def role(self) -> bytes:
        """vLLM opens a chat stream with the role and empty content; completions have no such frame."""
        if self.plan.kind != "chat":
            return b""
        frame = self._head + b'{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,' \
                             b'"finish_reason":null}]'
        if self.plan.continuous_usage:
            # vLLM reports usage on every chunk with continuous_usage_stats, the role chunk included.
            frame += b',"usage":' + _dumps(usage(self.plan.prompt_tokens, 0))
        return frame + b"}\n\n"

    def token(self, encoded: bytes, completion_tokens: int) -> bytes:
        if self.plan.continuous_usage:
            return self._tok_prefix + encoded + self._tok_suffix[:-3] + b',"usage":' + _dumps(
                usage(self.plan.prompt_tokens, completion_tokens)) + b"}\n\n"
        return self._tok_prefix + encoded + self._tok_suffix

    def final(self, encoded: bytes, finish_reason: str, completion_tokens: int) -> bytes:
        """The last token with its finish_reason (vLLM sends them in one chunk)."""
        frame = self._tok_prefix + encoded + self._final_prefix + _dumps(finish_reason) + b',"stop_reason":null}]'
        if self.plan.continuous_usage:
            frame += b',"usage":' + _dumps(usage(self.plan.prompt_tokens, completion_tokens))
        return frame + b"}\n\n"

    def usage_frame(self, completion_tokens: int) -> bytes:
        body = final_usage(self.plan, completion_tokens)
        if body["prompt_tokens_details"] is None:
            del body["prompt_tokens_details"]
        return self._head + b'],"usage":' + _dumps(body) + b"}\n\n"

    def closing(self, encoded: bytes, finish_reason: str, completion_tokens: int) -> bytes:
        """Everything after the last decode step: the final chunk, the usage chunk if asked, [DONE]."""
        body = self.final(encoded, finish_reason, completion_tokens)
        if self.plan.include_usage:
            body += self.usage_frame(completion_tokens)
        return body + DONE_FRAME


def full_response(plan: Plan, request_id: str, created: int, tokens: list[str], finish_reason: str) -> bytes:
    if plan.kind == "responses":
        return responses_api.full_response(plan, request_id, created, tokens, finish_reason)
    text = "".join(tokens)
    if plan.kind == "chat":
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None, "annotations": None, "audio": None,
                        "function_call": None, "tool_calls": [], "reasoning_content": None},
            "logprobs": None, "finish_reason": finish_reason, "stop_reason": None,
        }
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason, "stop_reason": None,
                  "prompt_logprobs": None}
        obj = "text_completion"
    body = {"id": request_id, "object": obj, "created": created, "model": plan.model, "choices": [choice],
            "usage": final_usage(plan, len(tokens)),
            "prompt_logprobs": None, "kv_transfer_params": None}
    if plan.kind != "chat":
        del body["prompt_logprobs"]
    return _dumps(body)


def now_s() -> int:
    return int(time.time())

"""The OpenAI Responses API as vLLM serves it (POST /v1/responses; vllm/entrypoints/openai/serving_responses.py and
protocol.py ResponsesRequest/ResponsesResponse): the request mapped onto a chat reply plan, the response object, and
the named SSE events of a stream (no [DONE]; the stream ends with response.completed, whose `response` is the same
object a non-streaming call returns, usage included). Streaming for models other than gpt-oss arrived in vLLM 0.10.2
(pull request 23741); the simulator streams for any model."""

from __future__ import annotations

import json
import os
from typing import Any

from .requests import ApiError, Plan, plan_reply

_INPUT_ROLES = ("user", "assistant", "system", "developer")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _item_text(item: Any, index: int) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise ApiError(400, f"input[{index}] must be an input item object", "input")
    kind = item.get("type", "message")
    role = item.get("role")
    if kind != "message" or role not in _INPUT_ROLES:
        raise ApiError(400, f"input[{index}]: only message items with role {', '.join(_INPUT_ROLES)} are supported "
                            "by the simulator", "input")
    content = item.get("content")
    if isinstance(content, str):
        return role, content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in ("input_text", "output_text", "text") \
                    or not isinstance(part.get("text"), str):
                raise ApiError(400, f"input[{index}].content: only text parts are supported by the simulator",
                               "input")
            texts.append(part["text"])
        return role, "\n".join(texts)
    raise ApiError(400, f"input[{index}].content must be a string or a list of content parts", "input")


def responses_plan(opts: Any, body: dict[str, Any]) -> Plan:
    """Validates a Responses request and plans its reply as the chat reply to the same messages."""
    if body.get("background"):
        if body.get("store") is False:
            raise ApiError(400, "background can only be used when `store` is true", "background")
        raise ApiError(400, "This vLLM engine does not support `store=True` and therefore does not support the "
                            "background mode. To enable these features, set the environment variable "
                            "`VLLM_ENABLE_RESPONSES_API_STORE=1` when launching the vLLM server.", "background")
    if body.get("previous_response_id") is not None:
        raise ApiError(404, f"Response with id '{body['previous_response_id']}' not found.", "previous_response_id")
    raw = body.get("input")
    if isinstance(raw, str):
        messages = [("user", raw)]
    elif isinstance(raw, list) and raw:
        messages = [_item_text(item, i) for i, item in enumerate(raw)]
    else:
        raise ApiError(400, "input: Field required (a string or a list of input items)", "input")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise ApiError(400, "instructions: Input should be a valid string", "instructions")
    if instructions:
        messages.insert(0, ("system", instructions))
    chat: dict[str, Any] = {
        "model": body.get("model"),
        "messages": [{"role": role, "content": text} for role, text in messages],
        "max_tokens": body.get("max_output_tokens"),
        "stream": body.get("stream", False),
    }
    for name in ("temperature", "top_p", "top_k", "seed", "stop", "ignore_eos"):
        if name in body:
            chat[name] = body[name]
    plan = plan_reply(opts, chat, "chat")
    plan.kind = "responses"
    plan.cached_tokens = 0
    plan.request = {
        "instructions": instructions,
        "metadata": body.get("metadata"),
        "temperature": float(body["temperature"]) if isinstance(body.get("temperature"), (int, float)) else 1.0,
        "top_p": float(body["top_p"]) if isinstance(body.get("top_p"), (int, float)) else 1.0,
        "max_output_tokens": body.get("max_output_tokens") or opts.max_model_len - plan.prompt_tokens,
        "user": body.get("user"),
    }
    return plan


def new_ids() -> tuple[str, str]:
    """(response id, message item id) in vLLM's forms."""
    return "resp_" + os.urandom(16).hex(), "msg_" + os.urandom(16).hex()


def _message(item_id: str, text: str, status: str) -> dict[str, Any]:
    content = [] if status == "in_progress" else [
        {"annotations": [], "text": text, "type": "output_text", "logprobs": None}]
    return {"id": item_id, "content": content, "role": "assistant", "status": status, "type": "message"}


def response_object(plan: Plan, response_id: str, item_id: str, created: int, text: str | None,
                    completion_tokens: int, finish_reason: str | None) -> dict[str, Any]:
    """The ResponsesResponse; text None: the in-progress object of response.created."""
    req = plan.request or {}
    done = text is not None
    incomplete = done and finish_reason == "length"
    usage = None
    if done:
        # vLLM's Responses usage always carries the cached tokens (no flag; vllm/entrypoints/openai/responses/).
        usage = {"input_tokens": plan.prompt_tokens, "input_tokens_details": {"cached_tokens": plan.cached_tokens},
                 "output_tokens": completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": plan.prompt_tokens + completion_tokens}
    return {
        "id": response_id, "created_at": created,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": req.get("instructions"), "metadata": req.get("metadata"), "model": plan.model,
        "object": "response", "output": [_message(item_id, text, "completed")] if done else [],
        "parallel_tool_calls": True, "temperature": req.get("temperature", 1.0), "tool_choice": "auto", "tools": [],
        "top_p": req.get("top_p", 1.0), "background": False, "max_output_tokens": req.get("max_output_tokens"),
        "max_tool_calls": None, "previous_response_id": None, "prompt": None, "reasoning": None,
        "service_tier": "auto", "status": ("incomplete" if incomplete else "completed") if done else "in_progress",
        "text": None, "top_logprobs": None, "truncation": "disabled", "usage": usage, "user": req.get("user"),
    }


class ResponsesFrames:
    """The event stream of one streamed Responses request; same interface as responses.StreamFrames."""

    __slots__ = ("plan", "response_id", "item_id", "created", "seq", "text")

    def __init__(self, plan: Plan, response_id: str, created: int) -> None:
        self.plan = plan
        self.response_id = response_id
        self.item_id = "msg_" + os.urandom(16).hex()
        self.created = created
        self.seq = -1
        self.text: list[str] = []

    def _event(self, kind: str, fields: dict[str, Any]) -> bytes:
        self.seq += 1
        return b"event: %s\ndata: %s\n\n" % (kind.encode(), _dumps({"type": kind, **fields,
                                                                     "sequence_number": self.seq}))

    def role(self) -> bytes:
        """The opening events, up to the empty text part the deltas fill."""
        start = response_object(self.plan, self.response_id, self.item_id, self.created, None, 0, None)
        where = {"output_index": 0, "item_id": self.item_id}
        return (self._event("response.created", {"response": start})
                + self._event("response.in_progress", {"response": start})
                + self._event("response.output_item.added",
                              {"output_index": 0, "item": _message(self.item_id, "", "in_progress")})
                + self._event("response.content_part.added",
                              {**where, "content_index": 0,
                               "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}))

    def token(self, encoded: bytes, _completion_tokens: int) -> bytes:
        delta = json.loads(encoded)
        self.text.append(delta)
        return self._event("response.output_text.delta", {"content_index": 0, "output_index": 0,
                                                          "item_id": self.item_id, "delta": delta, "logprobs": []})

    def closing(self, encoded: bytes, finish_reason: str, completion_tokens: int) -> bytes:
        """The last delta, the done events and response.completed (vLLM sends it for a length stop too)."""
        out = self.token(encoded, completion_tokens) if encoded != b'""' else b""
        text = "".join(self.text)
        part = {"type": "output_text", "text": text, "annotations": []}
        where = {"output_index": 0, "item_id": self.item_id}
        final = response_object(self.plan, self.response_id, self.item_id, self.created, text, completion_tokens,
                                finish_reason)
        return (out + self._event("response.output_text.done", {**where, "content_index": 0, "text": text,
                                                                 "logprobs": []})
                + self._event("response.content_part.done", {**where, "content_index": 0, "part": part})
                + self._event("response.output_item.done",
                              {"output_index": 0, "item": _message(self.item_id, text, "completed")})
                + self._event("response.completed", {"response": final}))


def full_response(plan: Plan, response_id: str, created: int, tokens: list[str], finish_reason: str) -> bytes:
    _, item_id = new_ids()
    return _dumps(response_object(plan, response_id, item_id, created, "".join(tokens), len(tokens), finish_reason))

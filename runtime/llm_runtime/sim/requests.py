"""Validates OpenAI request bodies the way vLLM does and plans the reply (its tokens and why it ends)."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from . import tokenizer
from .options import SimOptions
from .text_source import lorem


class ApiError(Exception):
    """An error response in vLLM's shape: {"error": {"message", "type", "param", "code"}}."""

    TYPES = {400: "BadRequestError", 401: "Unauthorized", 404: "NotFoundError", 500: "InternalServerError",
             503: "ServiceUnavailableError"}

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.TYPES.get(self.status, "Error"), "param": self.param,
                          "code": self.status}}


@dataclass
class Plan:
    kind: str  # "chat" | "completion" | "responses"
    model: str
    prompt_tokens: int
    tokens: list[str]  # the whole reply, already cut to max_tokens and at stop strings
    finish_reason: str  # "stop" | "length"
    stream: bool
    include_usage: bool
    continuous_usage: bool
    request: dict[str, Any] | None = field(default=None)  # what a Responses answer repeats from its request
    prompt: list[Any] = field(default_factory=list)  # the prompt's tokens (strings, or ids as given), for the cache
    # Prompt tokens the prefix cache supplied, set when the engine schedules the request; None: not reported
    # (vLLM reports prompt_tokens_details only with --enable-prompt-tokens-details).
    cached_tokens: int | None = None
    limit: int = 0  # the most tokens the reply may have (max_tokens, else what the context leaves)


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(400, f"The request body is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return data


def _int(body: dict[str, Any], name: str, minimum: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ApiError(400, f"{name}: Input should be a valid integer, got {value!r}", name)
    if minimum is not None and value < minimum:
        raise ApiError(400, f"{name} must be at least {minimum}, got {value}.", name)
    return value


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ApiError(400, f"{name}: Input should be a valid number, got {value!r}", name)
    return float(value)


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(400, f"{name}: Input should be a valid boolean, got {value!r}", name)
    return value


def _check_sampling(body: dict[str, Any]) -> None:
    temperature = _number(body, "temperature")
    if temperature is not None and temperature < 0:
        raise ApiError(400, f"temperature must be non-negative, got {temperature}.", "temperature")
    top_p = _number(body, "top_p")
    if top_p is not None and not 0 < top_p <= 1:
        raise ApiError(400, f"top_p must be in (0, 1], got {top_p}.", "top_p")
    top_k = _int(body, "top_k")
    if top_k is not None and top_k < -1:
        raise ApiError(400, f"top_k must be 0 (disable), or at least 1, got {top_k}.", "top_k")
    _int(body, "seed")
    n = _int(body, "n")
    if n is not None and n != 1:
        raise ApiError(400, f"n must be 1 on this simulator, got {n}.", "n")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and not (
        isinstance(stop, list) and all(isinstance(s, str) for s in stop)
    ):
        raise ApiError(400, "stop: Input should be a string or a list of strings", "stop")


CHAT_ROLES = frozenset({"system", "user", "assistant", "tool", "developer", "function"})


def _message_text(message: Any, index: int) -> tuple[str, str]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise ApiError(400, f"messages[{index}] must be an object with a string 'role'", "messages")
    if message["role"] not in CHAT_ROLES:
        # vLLM's request model rejects an unknown role the same way (a 400 before anything is generated).
        raise ApiError(400, f"messages[{index}].role: '{message['role']}' is not one of "
                            f"{', '.join(sorted(CHAT_ROLES))}", "messages")
    content = message.get("content")
    if content is None or isinstance(content, str):
        return message["role"], content or ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ApiError(400, f"messages[{index}].content: only text parts ({{'type': 'text', 'text': ...}}) "
                               "are supported by the simulator", "messages")
            texts.append(part["text"])
        return message["role"], "\n".join(texts)
    raise ApiError(400, f"messages[{index}].content must be a string or a list of content parts", "messages")


def chat_messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: Field required (a non-empty list of {role, content} objects)", "messages")
    return [_message_text(m, i) for i, m in enumerate(messages)]


def completion_prompt(body: dict[str, Any]) -> tuple[str, list[Any]]:
    """(prompt text, its tokens); token-id prompts have no text and are their own tokens."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]
    if isinstance(prompt, str):
        return prompt, tokenizer.tokenize(prompt)
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        return "", prompt
    raise ApiError(400, "prompt: Field required (a string, a one-item list of strings, or a list of token ids; "
                   "the simulator takes one prompt per request)", "prompt")


def check_context(opts: SimOptions, prompt_tokens: int, max_tokens: int | None) -> None:
    """vLLM's context-length errors, with its wording."""
    limit = opts.max_model_len
    if prompt_tokens >= limit:
        raise ApiError(400, f"This model's maximum context length is {limit} tokens. However, your request has "
                       f"{prompt_tokens} input tokens. Please reduce the length of the input messages.")
    if max_tokens is not None and prompt_tokens + max_tokens > limit:
        raise ApiError(400, f"This model's maximum context length is {limit} tokens. However, you requested "
                       f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, {max_tokens} in the "
                       "completion). Please reduce the length of the messages or completion.")


def check_model(opts: SimOptions, body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None or model == "":
        return opts.model_name
    if not isinstance(model, str) or model not in opts.served_model_names:
        raise ApiError(404, f"The model `{model}` does not exist.", "model")
    return model


def _cut_at_stop(tokens: list[str], stops: list[str]) -> tuple[list[str], bool]:
    text = "".join(tokens)
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    if not hits:
        return tokens, False
    end = min(hits)
    kept: list[str] = []
    length = 0
    for tok in tokens:
        if length + len(tok) > end:
            break
        kept.append(tok)
        length += len(tok)
    return kept, True


def plan_reply(opts: SimOptions, body: dict[str, Any], kind: str) -> Plan:
    model = check_model(opts, body)
    _check_sampling(body)
    stream = _bool(body, "stream")
    stream_options = body.get("stream_options")
    if stream_options is not None:
        if not stream:
            raise ApiError(400, "Stream options can only be defined when `stream=True`.", "stream_options")
        if not isinstance(stream_options, dict):
            raise ApiError(400, "stream_options must be an object", "stream_options")
    stream_options = stream_options or {}
    if kind == "chat":
        messages = chat_messages(body)
        prompt = tokenizer.chat_prompt(messages)
        user = [text for role, text in messages if role == "user"]
        echo_source = user[-1] if user else messages[-1][1]
        prompt_key = "\x00".join(text for _, text in messages)
    else:
        echo_source, prompt = completion_prompt(body)
        prompt_key = echo_source
    prompt_tokens = len(prompt)
    max_tokens = _int(body, "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = _int(body, "max_tokens", 1)
    else:
        _int(body, "max_tokens", 1)
    check_context(opts, prompt_tokens, max_tokens)
    limit = opts.max_model_len - prompt_tokens if max_tokens is None else max_tokens
    ignore_eos = _bool(body, "ignore_eos")
    seed = _int(body, "seed")
    lorem_seed = f"{opts.seed if seed is None else seed}:{zlib.crc32(prompt_key.encode('utf-8'))}"
    if opts.mode == "echo" and echo_source.strip():
        tokens = tokenizer.tokenize(echo_source)
        while ignore_eos and len(tokens) < limit:
            tokens += tokenizer.tokenize(" " + echo_source)
    elif ignore_eos:
        tokens = tokenizer.tokenize(lorem(lorem_seed, words=limit))
    else:
        tokens = tokenizer.tokenize(lorem(lorem_seed)) if opts.mode == "lorem" else []
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    stopped = False
    if stops and not ignore_eos:
        tokens, stopped = _cut_at_stop(tokens, stops)
    finish = "stop"
    if len(tokens) > limit:
        tokens = tokens[:limit]
        finish = "length"
    elif ignore_eos and not stopped and len(tokens) == limit:
        finish = "length"
    return Plan(kind=kind, model=model, prompt_tokens=prompt_tokens, tokens=tokens, finish_reason=finish,
                stream=stream, include_usage=_bool(stream_options, "include_usage"),
                continuous_usage=_bool(stream_options, "continuous_usage_stats"), prompt=prompt,
                cached_tokens=0 if opts.prompt_tokens_details else None, limit=limit)

"""The simulator's HTTP routes: vLLM's OpenAI server as seen from outside."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import traceback
from collections.abc import Callable

from .. import VLLM_VERSION, lifecycle
from . import tokenizer
from .engine import Engine, Sequence, crash_now
from .http_connection import Connection, Request
from .metrics import EngineMetrics
from .options import SimOptions
from .requests import ApiError, chat_messages, check_model, parse_json, plan_reply
from .responses import new_request_id, now_s
from .responses_api import responses_plan

SIM_VERSION = f"{VLLM_VERSION}+sim"
_PROTECTED = ("/v1/", "/tokenize", "/detokenize")


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# What vLLM's ServiceUnavailableMiddleware answers while it drains (vllm/entrypoints/serve/elastic_ep/middleware.py):
# every path but these gets 503.
_DRAIN_EXEMPT = ("/live", "/metrics")
_DRAIN_BODY = b'{"error":"Server is unavailable. Please try again later."}'


class SimApp:
    """State: loading -> ready -> (dead | draining -> stopping). /health is 200 only while ready."""

    def __init__(self, opts: SimOptions, emitter: lifecycle.Emitter) -> None:
        self.opts = opts
        self.emitter = emitter
        self.metrics = EngineMetrics(opts.model_name)
        self.engine = Engine(opts, self.metrics, self._crash)
        self.connections: set[Connection] = set()
        self.state = "loading"
        self.created = now_s()
        self._key_digest = hashlib.sha256(opts.api_key.encode()).digest() if opts.api_key else None
        self._routes: dict[str, dict[str, Callable[[Connection, Request], None]]] = {
            "/health": {"GET": self._health},
            "/ping": {"GET": self._health, "POST": self._health},
            "/version": {"GET": self._version},
            "/metrics": {"GET": self._metrics},
            "/v1/models": {"GET": self._models},
            "/v1/chat/completions": {"POST": lambda c, r: self._generate(c, r, "chat")},
            "/v1/completions": {"POST": lambda c, r: self._generate(c, r, "completion")},
            "/v1/responses": {"POST": lambda c, r: self._generate(c, r, "responses")},
            "/tokenize": {"POST": self._tokenize},
        }

    # --- Handler protocol (called by connections) ---------------------------------------------------------------

    def handle(self, conn: Connection, req: Request) -> None:
        try:
            if self.state == "draining" and req.path not in _DRAIN_EXEMPT:
                conn.respond(503, _DRAIN_BODY)
                return
            methods = self._routes.get(req.path)
            if methods is None:
                conn.respond(404, b'{"detail":"Not Found"}')
                return
            route = methods.get(req.method)
            if route is None:
                conn.respond(405, b'{"detail":"Method Not Allowed"}', extra=f"allow: {', '.join(methods)}\r\n")
                return
            if self._key_digest is not None and req.path.startswith(_PROTECTED):
                self._authorize(req)
            route(conn, req)
        except ApiError as err:
            conn.respond(err.status, _dumps(err.body()))
        except Exception:  # a bug here must not take the server down; answer like vLLM's catch-all
            traceback.print_exc(file=sys.stderr)
            conn.respond(500, _dumps(ApiError(500, "Internal Server Error").body()))

    def disconnected(self, conn: Connection) -> None:
        seq = conn.sequence
        if isinstance(seq, Sequence) and not seq.done:
            self.engine.cancel(seq)

    def writable(self) -> None:
        self.engine.wake()

    # --- routes -------------------------------------------------------------------------------------------------

    def _authorize(self, req: Request) -> None:
        header = req.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        given = hashlib.sha256(token.strip().encode()).digest()
        assert self._key_digest is not None
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, self._key_digest):
            raise ApiError(401, "Unauthorized")

    def _health(self, conn: Connection, _req: Request) -> None:
        conn.respond(200 if self.state == "ready" else 503, b"")

    def _version(self, conn: Connection, _req: Request) -> None:
        conn.respond(200, _dumps({"version": SIM_VERSION}))

    def _metrics(self, conn: Connection, _req: Request) -> None:
        engine = self.engine
        text = self.metrics.render(len(engine.running), len(engine.waiting), engine.kv_cache_usage())
        conn.respond(200, text.encode(), "text/plain; version=0.0.4; charset=utf-8")

    def _models(self, conn: Connection, _req: Request) -> None:
        data = [
            {"id": name, "object": "model", "created": self.created, "owned_by": "vllm", "root": self.opts.model,
             "parent": None, "max_model_len": self.opts.max_model_len,
             "permission": [{"id": f"modelperm-{i}", "object": "model_permission", "created": self.created,
                             "allow_create_engine": False, "allow_sampling": True, "allow_logprobs": True,
                             "allow_search_indices": False, "allow_view": True, "allow_fine_tuning": False,
                             "organization": "*", "group": None, "is_blocking": False}]}
            for i, name in enumerate(self.opts.served_model_names)
        ]
        conn.respond(200, _dumps({"object": "list", "data": data}))

    def _require_engine(self) -> None:
        if self.state == "loading":
            raise ApiError(503, "The model is still loading; retry when /health answers 200.")
        if self.state != "ready":
            raise ApiError(500, "EngineCore encountered an issue. See stack trace (above) for the root cause.")

    def _generate(self, conn: Connection, req: Request, kind: str) -> None:
        self._require_engine()
        body = parse_json(req.body)
        plan = responses_plan(self.opts, body) if kind == "responses" else plan_reply(self.opts, body, kind)
        if self.engine.injects_error():
            raise ApiError(500, "Simulated engine error (--sim-error-rate).")
        if plan.stream:
            conn.start_stream()
        request_id = new_request_id(kind)
        if self.opts.otlp_traces_endpoint:
            # Where vLLM would parent its request span: shown so tests and operators can follow the trace here.
            print(f"{request_id} traceparent={req.headers.get('traceparent', '-')}", file=sys.stderr, flush=True)
        conn.sequence = self.engine.submit(plan, conn, request_id, now_s())

    def _tokenize(self, conn: Connection, req: Request) -> None:
        self._require_engine()
        body = parse_json(req.body)
        check_model(self.opts, body)
        if "messages" in body:
            ids = [tokenizer.token_id(t) for t in tokenizer.chat_prompt(chat_messages(body))]
        elif isinstance(body.get("prompt"), str):
            ids = [tokenizer.token_id(t) for t in tokenizer.tokenize(body["prompt"])]
        else:
            raise ApiError(400, "prompt or messages: Field required (a string prompt or a list of messages)", "prompt")
        conn.respond(200, _dumps({"count": len(ids), "max_model_len": self.opts.max_model_len, "tokens": ids,
                                  "token_strs": None}))

    # --- faults ---------------------------------------------------------------------------------------------------

    def _crash(self, seq: Sequence) -> None:
        n = self.opts.crash_after
        detail = f"EngineCore died mid-stream: simulated crash on request {seq.number} (--sim-crash-after {n})"
        self.emitter.emit(lifecycle.fatal("engine_error", detail, "Injected by the simulator (--sim-crash-after / "
                                          "SIM_CRASH_AFTER); unset it to keep the engine up."))
        linger = self.opts.crash_linger_seconds
        if linger <= 0:
            crash_now(f"ERROR {detail}")
        # Like vLLM when its engine core dies: in-flight requests fail, /health answers 503, then the process ends.
        self.state = "dead"
        print(f"ERROR {detail}; exiting in {linger:g} s", file=sys.stderr, flush=True)
        loop = asyncio.get_running_loop()
        loop.call_soon(self.engine.abort_all)
        loop.call_later(linger, crash_now, "ERROR simulated engine is dead; exiting")

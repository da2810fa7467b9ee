"""The simulator's HTTP routes: vLLM's OpenAI server as seen from outside."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import traceback
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from .. import VLLM_VERSION, lifecycle
from . import tokenizer
from .engine import Engine, Sequence, crash_now
from .http_connection import Connection, Request
from .metrics import EngineMetrics
from .options import SimOptions
from .requests import ApiError, Plan, chat_messages, check_model, parse_json, plan_reply
from .responses import new_request_id, now_s
from .responses_api import responses_plan
from .sleep import SleepMode

SIM_VERSION = f"{VLLM_VERSION}+sim"
_PROTECTED = ("/v1/", "/tokenize", "/detokenize")


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_TRUE = ("1", "true", "on", "yes", "t", "y")
_FALSE = ("0", "false", "off", "no", "f", "n")


def _query_bool(query: dict[str, list[str]], name: str) -> bool:
    """A bool query parameter as FastAPI reads one; anything else is a validation error, which vLLM answers 400."""
    values = query.get(name)
    if not values:
        return False
    value = values[-1].lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ApiError(400, f"{name}: Input should be a valid boolean, unable to interpret input", name)


def _forgotten_weights(plan: Plan) -> None:
    """After a level-2 wake without reload_weights the weights are remapped empty; the simulator answers what zero
    weights give under greedy decoding (equal logits: token 0, "!" in Llama 3's and Qwen's vocabularies) until
    max_tokens."""
    plan.tokens = ["!"] * plan.limit
    plan.finish_reason = "length"


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
        self.sleep = SleepMode(opts, self.engine, self.metrics)
        self.connections: set[Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
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
            "/sim/memory": {"GET": self._sim_memory},
        }
        if opts.dev_mode:
            # vLLM registers its development routes only with VLLM_SERVER_DEV_MODE (api_server.py build_app).
            self._routes.update({
                "/sleep": {"POST": self._sleep},
                "/wake_up": {"POST": self._wake_up},
                "/is_sleeping": {"GET": self._is_sleeping},
                "/collective_rpc": {"POST": self._collective_rpc},
                "/reset_prefix_cache": {"POST": self._reset_prefix_cache},
            })

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

    def _sim_memory(self, conn: Connection, _req: Request) -> None:
        conn.respond(200, _dumps(self.sleep.report()))

    # --- sleep mode (vLLM's development routes; sleep.py keeps the state) ------------------------------------------

    def _utility(self, conn: Connection, call: Callable[[], Awaitable[bytes | None]]) -> None:
        """Runs a utility call and answers when it is done: 200 with its JSON, or with no body for None."""
        self._require_engine()

        async def run() -> None:
            try:
                body = await call()
                conn.respond(200, b"" if body is None else body)
            except ApiError as err:
                conn.respond(err.status, _dumps(err.body()))
            except Exception:
                traceback.print_exc(file=sys.stderr)
                conn.respond(500, _dumps(ApiError(500, "Internal Server Error").body()))

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(self._tasks.discard)

    def _sleep(self, conn: Connection, req: Request) -> None:
        query = parse_qs(req.query, keep_blank_values=True)
        # Starlette's query_params.get gives the last value; a level that is not an integer fails like int() in vLLM.
        level = int(query.get("level", ["1"])[-1])
        mode = query.get("mode", ["abort"])[-1]

        async def call() -> None:
            await self.sleep.sleep(level, mode)

        self._utility(conn, call)

    def _wake_up(self, conn: Connection, req: Request) -> None:
        tags = parse_qs(req.query, keep_blank_values=True).get("tags") or None

        async def call() -> None:
            await self.sleep.wake_up(tags)

        self._utility(conn, call)

    def _is_sleeping(self, conn: Connection, _req: Request) -> None:
        async def call() -> bytes:
            return _dumps({"is_sleeping": await self.sleep.query()})

        self._utility(conn, call)

    def _reset_prefix_cache(self, conn: Connection, req: Request) -> None:
        query = parse_qs(req.query, keep_blank_values=True)
        reset_running = _query_bool(query, "reset_running_requests")
        _query_bool(query, "reset_external")

        async def call() -> bytes:
            return _dumps({"success": await self.sleep.reset_prefix_cache(reset_running)})

        self._utility(conn, call)

    def _collective_rpc(self, conn: Connection, req: Request) -> None:
        try:
            body = json.loads(req.body)
        except (ValueError, UnicodeDecodeError) as err:
            raise ApiError(400, f"JSON decode error: {err}") from None
        method = body.get("method") if isinstance(body, dict) else None
        if method is None:
            raise ApiError(400, "Missing 'method' in request body")
        if method != "reload_weights":
            raise ApiError(500, f"Call to collective_rpc method failed: the simulator's workers have no method "
                                f"{method!r} (only reload_weights)")
        workers = self.opts.tensor_parallel_size * self.opts.pipeline_parallel_size

        async def call() -> bytes:
            await self.sleep.reload_weights()
            return _dumps({"results": [None] * workers})

        self._utility(conn, call)

    def _require_engine(self) -> None:
        if self.state == "loading":
            raise ApiError(503, "The model is still loading; retry when /health answers 200.")
        if self.state != "ready":
            raise ApiError(500, "EngineCore encountered an issue. See stack trace (above) for the root cause.")

    def _generate(self, conn: Connection, req: Request, kind: str) -> None:
        self._require_engine()
        body = parse_json(req.body)
        plan = responses_plan(self.opts, body) if kind == "responses" else plan_reply(self.opts, body, kind)
        if not self.sleep.weights_valid:
            _forgotten_weights(plan)
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

"""A small HTTP/1.1 server connection on asyncio.Protocol: keep-alive, pipelining, Content-Length or chunked request
bodies, Expect: 100-continue, chunked streaming responses, and write back-pressure reported to the engine."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Protocol

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           413: "Content Too Large", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
           503: "Service Unavailable"}


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class Handler(Protocol):
    connections: set[Connection]

    def handle(self, conn: Connection, request: Request) -> None: ...

    def disconnected(self, conn: Connection) -> None: ...

    def writable(self) -> None: ...


class _Date:
    """The Date header, formatted once per second."""

    second = -1
    value = b""

    @classmethod
    def get(cls) -> bytes:
        now = int(time.time())
        if now != cls.second:
            cls.second = now
            cls.value = formatdate(now, usegmt=True).encode()
        return cls.value


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Connection(asyncio.Protocol):
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = False  # a response is being produced; later requests wait in buf (pipelining)
        self.paused = False
        self.closed = False
        self.keep_alive = True
        self.sequence: object | None = None  # the engine sequence this connection is answering, if any
        self._continue_sent = False

    # --- asyncio callbacks --------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.write = transport.write
        self.handler.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self.process()

    def eof_received(self) -> bool:
        # Like uvicorn: the end of the request stream means the client went away; closing makes connection_lost
        # cancel its generation, which frees the engine slot at once.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.handler.connections.discard(self)
        self.handler.disconnected(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.handler.writable()

    # --- requests -----------------------------------------------------------------------------------------------

    def process(self) -> None:
        while not self.busy and not self.closed and self.buf:
            try:
                request = self._parse()
            except BadRequest as err:
                self.keep_alive = False
                self.respond(err.status, b'{"detail":"%s"}' % str(err).encode(), "application/json")
                return
            if request is None:
                return
            self.busy = True
            self.handler.handle(self, request)

    def _parse(self) -> Request | None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise BadRequest(431, "Request headers too large")
            return None
        head = bytes(buf[:end]).decode("latin-1").split("\r\n")
        parts = head[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest(400, "Malformed request line")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in head[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise BadRequest(400, "Malformed header line")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parsed = self._chunked_body(start)
            if parsed is None:
                self._maybe_continue(headers)
                return None
            body, consumed = parsed
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise BadRequest(400, "Invalid Content-Length") from None
            if length < 0:
                raise BadRequest(400, "Invalid Content-Length")
            if length > MAX_BODY_BYTES:
                raise BadRequest(413, f"Request body over {MAX_BODY_BYTES} bytes")
            if len(buf) < start + length:
                self._maybe_continue(headers)
                return None
            body = bytes(buf[start : start + length])
            consumed = start + length
        del buf[:consumed]
        self._continue_sent = False
        conn_header = headers.get("connection", "").lower()
        self.keep_alive = (version == "HTTP/1.1" and "close" not in conn_header) or (
            version == "HTTP/1.0" and "keep-alive" in conn_header
        )
        path, _, query = target.partition("?")
        return Request(method, path, query, headers, body)

    def _maybe_continue(self, headers: dict[str, str]) -> None:
        if not self._continue_sent and headers.get("expect", "").lower() == "100-continue":
            self._continue_sent = True
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _chunked_body(self, pos: int) -> tuple[bytes, int] | None:
        buf = self.buf
        body = bytearray()
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            try:
                size = int(bytes(buf[pos:line_end]).split(b";")[0].strip(), 16)
            except ValueError:
                raise BadRequest(400, "Malformed chunked body") from None
            pos = line_end + 2
            if size == 0:
                trailer_end = buf.find(b"\r\n", pos)
                while trailer_end > pos:  # skip trailer fields
                    pos = trailer_end + 2
                    trailer_end = buf.find(b"\r\n", pos)
                if trailer_end < 0:
                    return None
                return bytes(body), trailer_end + 2
            if len(buf) < pos + size + 2:
                return None
            body += buf[pos : pos + size]
            if len(body) > MAX_BODY_BYTES:
                raise BadRequest(413, f"Request body over {MAX_BODY_BYTES} bytes")
            pos += size + 2

    # --- responses ----------------------------------------------------------------------------------------------

    def _head(self, status: int, content_type: str, extra: str) -> bytes:
        return (
            b"HTTP/1.1 %d %s\r\ndate: %s\r\nserver: uvicorn\r\ncontent-type: %s\r\n%s%s"
            % (status, REASONS.get(status, "Error").encode(), _Date.get(), content_type.encode(), extra.encode(),
               b"" if self.keep_alive else b"connection: close\r\n")
        )

    def respond(self, status: int, body: bytes, content_type: str = "application/json", extra: str = "") -> None:
        if self.closed:
            return
        self.write(self._head(status, content_type, extra) + b"content-length: %d\r\n\r\n" % len(body) + body)
        self._done()

    def respond_json(self, status: int, body: bytes) -> None:
        self.respond(status, body)

    def start_stream(self) -> None:
        self.write(self._head(200, "text/event-stream; charset=utf-8", "") + b"transfer-encoding: chunked\r\n\r\n")

    def end_stream(self, data: bytes) -> None:
        if self.closed:
            return
        self.write(data)
        self._done()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _done(self) -> None:
        self.busy = False
        self.sequence = None
        if not self.keep_alive:
            assert self.transport is not None
            self.transport.close()
            return
        if self.buf:
            asyncio.get_running_loop().call_soon(self.process)

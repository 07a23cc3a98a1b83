"""A scripted fake LLM server on loopback, speaking the Anthropic and OpenAI wire formats.

The real SDK clients run against it (point a provider's base URL at it); nothing is mocked.

    with FakeLLMServer() as fake:
        fake.queue(Reply.rate_limited(retry_after=0.01), Reply.structured({"reply": "Hi"}))
        fake.handler = lambda request: Reply.text("Echo: " + request.last_user_text)
        ...
        fake.requests[0].protocol     # "anthropic" | "openai" | "azure"

Routes: POST /v1/messages (Anthropic), POST /v1/chat/completions and POST .../chat/completions
(OpenAI, Ollama, compatible servers), POST /openai/deployments/{name}/chat/completions?api-version=
(Azure). Each request takes the next queued reply, else asks `handler`, else answers `default`
(the text "OK"). A reply is written in the wire format of the request that receives it, so one
script serves every provider kind. A request with `"stream": true` gets server-sent events in its
protocol's streaming format (text replies are cut into word chunks; `Reply.stream` scripts the chunks,
their pacing and a connection lost mid-answer). Used by tests (see testing/pytest_fixtures.py) and by
benchmarks (`Reply.text(..., delay=2.0)`); stdlib only, one thread per connection.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error",
}
_OPENAI_ERROR_TYPES = {
    400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error", 404: "invalid_request_error",
    429: "rate_limit_exceeded", 500: "server_error", 503: "server_error",
}


@dataclass
class Reply:
    """One scripted answer. Build it with the class methods."""

    kind: str  # text | structured | error | raw | disconnect | stream
    content: str = ""  # the text of a text reply
    data: Any = None
    status: int = 200
    message: str = ""
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = "application/json"
    delay: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    model: str | None = None
    chunks: list[str] | None = None  # a streamed answer's pieces (stream replies)
    chunk_delay: float = 0.0  # seconds between streamed chunks
    break_after: int | None = None  # close the connection after this many chunks, without an ending
    error_after: int | None = None  # send the protocol's error event after this many chunks (`status` its kind)
    sent_at: list[float] = field(default_factory=list)  # time.monotonic() as each streamed chunk was sent (benches)

    @classmethod
    def stream(cls, chunks: list[str], *, chunk_delay: float = 0.0, break_after: int | None = None,
               error_after: int | None = None, error_status: int = 529, input_tokens: int | None = None,
               output_tokens: int | None = None, delay: float = 0.0) -> Reply:
        """A text answer sent in these pieces to a streaming request (joined for a plain one).
        `break_after=n` drops the connection after n pieces: a provider failing mid-answer.
        `error_after=n` sends the provider's error event after n pieces instead (Anthropic's
        `overloaded_error` for 529), and ends the body cleanly. `delay`: before the first piece."""
        return cls("stream", content="".join(chunks), chunks=list(chunks), chunk_delay=chunk_delay,
                   break_after=break_after, error_after=error_after, status=error_status if error_after is not None
                   else 200, message="Overloaded" if error_after is not None else "",
                   input_tokens=input_tokens, output_tokens=output_tokens, delay=delay)

    @classmethod
    def text(cls, text: str, *, delay: float = 0.0, input_tokens: int | None = None,
             output_tokens: int | None = None, stop_reason: str | None = None, model: str | None = None) -> Reply:
        """A plain text answer. For a structured request this is the "model ignored the schema" case."""
        return cls("text", content=text, delay=delay, input_tokens=input_tokens, output_tokens=output_tokens,
                   stop_reason=stop_reason, model=model)

    @classmethod
    def structured(cls, data: Any, *, delay: float = 0.0, input_tokens: int | None = None,
                   output_tokens: int | None = None, stop_reason: str | None = None) -> Reply:
        """Structured output: an Anthropic tool_use block, or OpenAI JSON content (tool_calls if the
        request offered tools). `data` is sent as given, so an off-schema dict tests validation."""
        return cls("structured", data=data, delay=delay, input_tokens=input_tokens, output_tokens=output_tokens,
                   stop_reason=stop_reason)

    @classmethod
    def error(cls, status: int, message: str = "", *, retry_after: float | None = None, code: str | None = None,
              delay: float = 0.0) -> Reply:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        return cls("error", status=status, message=message or f"fake error {status}", code=code,
                   headers=headers, delay=delay)

    @classmethod
    def unauthorized(cls) -> Reply:
        return cls.error(401, "invalid x-api-key", code="invalid_api_key")

    @classmethod
    def rate_limited(cls, retry_after: float | None = None) -> Reply:
        return cls.error(429, "rate limit exceeded", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls.error(status, "internal server error")

    @classmethod
    def raw(cls, body: bytes | str, *, status: int = 200, content_type: str = "application/json",
            delay: float = 0.0) -> Reply:
        """Exactly these bytes, e.g. malformed JSON."""
        return cls("raw", body=body.encode() if isinstance(body, str) else body, status=status,
                   content_type=content_type, delay=delay)

    @classmethod
    def malformed_json(cls) -> Reply:
        return cls.raw(b'{"id": "broken", "content": [')

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Reply:
        """Answer only after `seconds`: a client with a shorter timeout sees a timeout."""
        return cls.text("too late", delay=seconds)

    @classmethod
    def disconnect(cls) -> Reply:
        """Close the connection without answering."""
        return cls("disconnect")


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any
    protocol: str  # anthropic | openai | azure | unknown
    deployment: str | None = None
    received_at: float = 0.0

    @property
    def api_key(self) -> str | None:
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        if "api-key" in self.headers:
            return self.headers["api-key"]
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

    @property
    def model(self) -> str | None:
        body = self.json if isinstance(self.json, dict) else {}
        return body.get("model") or self.deployment

    @property
    def system(self) -> str:
        body = self.json if isinstance(self.json, dict) else {}
        if self.protocol == "anthropic":
            system = body.get("system") or ""
            return system if isinstance(system, str) else "".join(b.get("text", "") for b in system)
        return "".join(m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "system")

    @property
    def messages(self) -> list[dict]:
        """The conversation without the system prompt, as {"role", "content"} with text content."""
        body = self.json if isinstance(self.json, dict) else {}
        found = []
        for message in body.get("messages", []):
            if message.get("role") == "system":
                continue
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            found.append({"role": message.get("role"), "content": content or ""})
        return found

    @property
    def last_user_text(self) -> str:
        users = [m["content"] for m in self.messages if m["role"] == "user"]
        return users[-1] if users else ""

    @property
    def schema(self) -> dict | None:
        """The JSON schema the client asked the answer to follow, if any."""
        body = self.json if isinstance(self.json, dict) else {}
        if self.protocol == "anthropic":
            tools = body.get("tools") or []
            return tools[0].get("input_schema") if tools else None
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            return response_format.get("json_schema", {}).get("schema")
        tools = body.get("tools") or []
        return tools[0].get("function", {}).get("parameters") if tools else None

    @property
    def schema_name(self) -> str:
        body = self.json if isinstance(self.json, dict) else {}
        if self.protocol == "anthropic":
            choice = body.get("tool_choice") or {}
            tools = body.get("tools") or [{}]
            return choice.get("name") or tools[0].get("name") or "respond"
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            return response_format.get("json_schema", {}).get("name", "respond")
        tools = body.get("tools") or [{}]
        return tools[0].get("function", {}).get("name", "respond")

    @property
    def wants_structured(self) -> bool:
        return self.schema is not None

    @property
    def wants_stream(self) -> bool:
        return isinstance(self.json, dict) and bool(self.json.get("stream"))


Handler = Callable[[RecordedRequest], "Reply | dict | str | None"]


class FakeLLMServer:
    def __init__(self, *, host: str = "127.0.0.1", default: Reply | None = None, handler: Handler | None = None):
        self.host = host
        self.default = default or Reply.text("OK")
        self.handler = handler
        self._queue: collections.deque[Reply] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---
    def start(self) -> FakeLLMServer:
        server = self

        class _Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024  # benchmarks open many connections at once

        class _Handler(_RequestHandler):
            fake = server

        self._httpd = _Server((self.host, 0), _Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-llm-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes replies sleeping on a delay
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # idle keep-alive connections hold a thread each
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- addresses ---
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def base_url_for(self, kind: str) -> str:
        """The base URL an LLMProvider of this kind should store to reach this server."""
        if kind in ("anthropic", "azure_openai", "ollama"):
            return self.url  # SDK adds /v1/messages; Azure adds /openai/...; the adapter adds /v1 for Ollama
        return self.url + "/v1"

    # --- scripting ---
    def queue(self, *replies: Reply) -> None:
        """Replies for the next requests, in order (before `handler` and `default`)."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._requests.clear()
        self.handler = None

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self._requests[-1] if self._requests else None

    @property
    def pending(self) -> int:
        """Queued replies not yet consumed."""
        with self._lock:
            return len(self._queue)

    def provider(self, workspace, *, kind: str = "anthropic", model: str | None = None, user=None,
                 api_key: str = "sk-test-fake-key-0123456789", is_default: bool | None = None, **fields):
        """Create an LLMProvider in `workspace` that talks to this server (test helper)."""
        from integrations.llm.models import LLMProvider

        values = {
            "kind": kind,
            "model": model or {"anthropic": "claude-sonnet-4-6", "ollama": "llama3.1"}.get(kind, "gpt-4o-mini"),
            "api_key": api_key,
            "base_url": self.base_url_for(kind),
            "api_version": "2024-10-21" if kind == "azure_openai" else "",
            "is_default": user is None if is_default is None else is_default,
            **fields,
        }
        return LLMProvider.objects.create(workspace=workspace, user=user, **values)

    # --- internals ---
    def _record_and_choose(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            queued = self._queue.popleft() if self._queue else None
        if queued is not None:
            return queued
        if self.handler is not None:
            chosen = self.handler(request)
            if isinstance(chosen, Reply):
                return chosen
            if isinstance(chosen, str):
                return Reply.text(chosen)
            if chosen is not None:
                return Reply.structured(chosen)
        return self.default


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeLLMServer

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.fake._lock:
            self.fake._connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass  # the connection was shut (disconnect reply, server stop)
        finally:
            with self.fake._lock:
                self.fake._connections.discard(self.connection)

    def log_message(self, format, *args):  # quiet test output
        pass

    def do_GET(self):
        self._send_json(404, {"error": {"message": "not found", "type": "not_found"}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        path = split.path
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        deployment = None
        if path.endswith("/messages"):
            protocol = "anthropic"
        elif "/openai/deployments/" in path and path.endswith("/chat/completions"):
            protocol = "azure"
            deployment = path.split("/openai/deployments/", 1)[1].split("/", 1)[0]
        elif path.endswith("/chat/completions"):
            protocol = "openai"
        else:
            protocol = "unknown"
        request = RecordedRequest(
            method="POST", path=path, query=dict(parse_qsl(split.query)),
            headers={k.lower(): v for k, v in self.headers.items()}, body=body, json=payload,
            protocol=protocol, deployment=deployment, received_at=time.time(),
        )
        if protocol == "unknown":
            self._send_json(404, {"error": {"message": f"no route for {path}", "type": "not_found"}})
            return
        reply = self.fake._record_and_choose(request)
        if reply.delay and self.fake._stopping.wait(reply.delay):
            self.close_connection = True
            return
        if reply.kind == "disconnect":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            self._answer(request, reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout) before the answer

    def _answer(self, request: RecordedRequest, reply: Reply):
        if reply.kind == "raw":
            self._send(reply.status, reply.body or b"", reply.content_type, reply.headers)
        elif reply.kind == "error":
            self._send_json(reply.status, _error_body(request.protocol, reply), reply.headers)
        elif request.wants_stream and reply.kind in ("text", "stream"):
            self._stream(request, reply)
        elif request.protocol == "anthropic":
            self._send_json(200, _anthropic_body(request, reply))
        else:
            self._send_json(200, _openai_body(request, reply))

    def _stream(self, request: RecordedRequest, reply: Reply):
        """Server-sent events with chunked transfer encoding (as providers send them), one chunk per event.

        `break_after` shuts the connection before the terminating chunk: the client sees an incomplete
        body, as when a provider's connection drops mid-answer."""
        chunks = reply.chunks if reply.chunks is not None else _word_chunks(reply.content)
        input_tokens, output_tokens = _tokens(request, reply, reply.content)
        model = reply.model or request.model
        events = _anthropic_events if request.protocol == "anthropic" else _openai_events
        start, pieces, end = events(model, chunks, input_tokens, output_tokens, reply.stop_reason)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def write(event: bytes):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))

        for event in start:
            write(event)
        for n, event in enumerate(pieces):
            if reply.break_after is not None and n >= reply.break_after:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if reply.error_after is not None and n >= reply.error_after:
                body = _error_body(request.protocol, reply)
                write(_sse(body, "error") if request.protocol == "anthropic" else _sse(body))
                self.wfile.write(b"0\r\n\r\n")
                return
            if n and reply.chunk_delay and self.fake._stopping.wait(reply.chunk_delay):
                self.close_connection = True
                return
            write(event)
            self.wfile.flush()
            reply.sent_at.append(time.monotonic())
        for event in end:
            write(event)
        self.wfile.write(b"0\r\n\r\n")

    def _send_json(self, status: int, payload: dict, headers: dict | None = None):
        self._send(status, json.dumps(payload).encode(), "application/json", headers or {})

    def _send(self, status: int, body: bytes, content_type: str, headers: dict):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _tokens(request: RecordedRequest, reply: Reply, output: str) -> tuple[int, int]:
    input_tokens = reply.input_tokens if reply.input_tokens is not None else max(1, len(request.body) // 4)
    output_tokens = reply.output_tokens if reply.output_tokens is not None else max(1, len(output) // 4)
    return input_tokens, output_tokens


def _anthropic_body(request: RecordedRequest, reply: Reply) -> dict:
    if reply.kind == "structured" and request.wants_structured:
        output = json.dumps(reply.data)
        content = [{"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": request.schema_name,
                    "input": reply.data}]
        stop = "tool_use"
    else:
        output = reply.content if reply.kind in ("text", "stream") else json.dumps(reply.data)
        content = [{"type": "text", "text": output}]
        stop = "end_turn"
    input_tokens, output_tokens = _tokens(request, reply, output)
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
        "model": reply.model or request.model, "content": content,
        "stop_reason": reply.stop_reason or stop, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def _openai_body(request: RecordedRequest, reply: Reply) -> dict:
    body = request.json if isinstance(request.json, dict) else {}
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if reply.kind == "structured":
        output = json.dumps(reply.data)
        if body.get("tools") and not body.get("response_format"):
            message["tool_calls"] = [{"id": f"call_{uuid.uuid4().hex[:20]}", "type": "function",
                                      "function": {"name": request.schema_name, "arguments": output}}]
            stop = "tool_calls"
        else:
            message["content"] = output
            stop = "stop"
    else:
        output = reply.content
        message["content"] = output
        stop = "stop"
    input_tokens, output_tokens = _tokens(request, reply, output)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
        "model": reply.model or request.model,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.stop_reason or stop, "logprobs": None}],
        "usage": {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                  "total_tokens": input_tokens + output_tokens},
    }


def _word_chunks(text: str) -> list[str]:
    """A text cut after each space, as providers stream it (roughly a token or a word at a time)."""
    pieces, current = [], ""
    for char in text:
        current += char
        if char == " ":
            pieces.append(current)
            current = ""
    return [*pieces, current] if current else pieces


def _sse(data: dict | str, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "").encode() + f"data: {payload}\n\n".encode()


def _anthropic_events(model, chunks, input_tokens, output_tokens, stop_reason):
    """The Messages API's streaming events: message_start, a text block of deltas, message_delta, stop."""
    start = [
        _sse({"type": "message_start", "message": {
            "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}, "message_start"),
        _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
             "content_block_start"),
    ]
    pieces = [_sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}},
                   "content_block_delta") for chunk in chunks]
    end = [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse({"type": "message_delta", "delta": {"stop_reason": stop_reason or "end_turn", "stop_sequence": None},
              "usage": {"output_tokens": output_tokens}}, "message_delta"),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return start, pieces, end


def _openai_events(model, chunks, input_tokens, output_tokens, stop_reason):
    """Chat Completions chunks: a role delta, content deltas, the finish reason, the usage, [DONE]."""
    ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    def chunk(choices, **extra):
        return _sse({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": choices, **extra})

    start = [chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
    pieces = [chunk([{"index": 0, "delta": {"content": text}, "finish_reason": None}]) for text in chunks]
    end = [
        chunk([{"index": 0, "delta": {}, "finish_reason": stop_reason or "stop"}]),
        chunk([], usage={"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                         "total_tokens": input_tokens + output_tokens}),
        _sse("[DONE]"),
    ]
    return start, pieces, end


def _error_body(protocol: str, reply: Reply) -> dict:
    if protocol == "anthropic":
        error_type = _ANTHROPIC_ERROR_TYPES.get(reply.status, "api_error")
        return {"type": "error", "error": {"type": error_type, "message": reply.message}}
    error_type = _OPENAI_ERROR_TYPES.get(reply.status, "server_error")
    return {"error": {"message": reply.message, "type": error_type, "param": None, "code": reply.code}}

"""Graph API client for Messenger (Facebook Page) and Instagram (Instagram Login).

One `requests.Session` per process (connection pooling), explicit timeouts, and typed errors:
callers branch on `GraphError.kind` / `.permanent`, never on HTTP. Error codes follow the table in
META.md. Retryable errors are retried here a bounded number of times with exponential backoff and
full jitter; a rate limit whose advertised wait is longer than that is raised at once with
`retry_after`, so the caller can defer the work instead of holding a worker.

Sending is not idempotent on Meta's side. The client therefore only retries a POST when Meta
answered with an error (nothing was delivered) or the connection was never established; a request
that may have reached Meta (read timeout, connection dropped mid-response) is raised as
`GraphError(kind="ambiguous")` and never repeated here. One exception: a pooled keep-alive connection the
server had already closed fails at once with no answer (RemoteDisconnected, connection reset, broken
pipe); the request never reached Meta, so it is sent once more on a fresh connection (issue 12: one reply
in 200 was marked unknown that way). Only on a reused connection: on a fresh one the same error may mean
Meta got the request.

Access tokens travel in the Authorization header (or, for Instagram's token refresh endpoint, the
query string); error messages are scrubbed of the token before they leave this module.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from urllib3.exceptions import NewConnectionError

from integrations.crypto import mask
from sidekick_project.backoff import backoff_delay

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
# Waits up to this long are slept in-process; longer rate-limit waits are handed to the caller.
INLINE_WAIT_MAX = 10.0

TOKEN = "token"  # 190: reconnect needed
WINDOW = "window"  # outside the messaging window: a human must take over
THREAD_CONTROL = "thread_control"  # another app owns the thread (handover protocol)
CANNOT_RECEIVE = "cannot_receive"
ABUSIVE = "abusive"  # 368: blocked as abusive
RATE_LIMIT = "rate_limit"
TEMPORARY = "temporary"  # Meta's own "try again"
SERVER = "server"  # HTTP 5xx without a known code
NETWORK = "network"  # connection never established: nothing was sent
AMBIGUOUS = "ambiguous"  # the request may have reached Meta: do not repeat a send
OTHER = "other"

RETRYABLE_KINDS = {RATE_LIMIT, TEMPORARY, SERVER, NETWORK}

_WINDOW_CODES = {(10, 2018278), (10, 2534022)}
_THREAD_CONTROL_CODES = {(10, 2018300)}
_CANNOT_RECEIVE_CODES = {(10, 2018108), (200, 1545041), (100, 2018001), (100, 2534001)}
_CANNOT_RECEIVE_ANY_SUBCODE = {551, 230}
_TEMPORARY_CODES = {1, 2, 1200}
_RATE_LIMIT_CODES = {4, 17, 32, 613}


class GraphError(Exception):
    def __init__(self, message: str, *, kind: str, code: int | None = None, subcode: int | None = None,
                 http_status: int | None = None, retry_after: float | None = None, fbtrace_id: str = ""):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.retry_after = retry_after
        self.fbtrace_id = fbtrace_id

    @property
    def permanent(self) -> bool:
        # AMBIGUOUS is not retryable either: repeating it could deliver twice.
        return self.kind not in RETRYABLE_KINDS

    @property
    def code_label(self) -> str:
        if self.code is None:
            return self.kind
        return f"{self.code}/{self.subcode}" if self.subcode else str(self.code)

    def __str__(self):
        return f"{self.kind} ({self.code_label}): {self.message}"


def classify(code: int | None, subcode: int | None, http_status: int | None) -> str:
    if code == 190:
        return TOKEN
    if (code, subcode) in _WINDOW_CODES:
        return WINDOW
    if (code, subcode) in _THREAD_CONTROL_CODES:
        return THREAD_CONTROL
    if (code, subcode) in _CANNOT_RECEIVE_CODES or code in _CANNOT_RECEIVE_ANY_SUBCODE:
        return CANNOT_RECEIVE
    if code == 368:
        return ABUSIVE
    if code in _RATE_LIMIT_CODES:
        return RATE_LIMIT
    if code in _TEMPORARY_CODES:
        return TEMPORARY
    if http_status is not None and http_status >= 500:
        return SERVER
    if http_status == 429:
        return RATE_LIMIT
    return OTHER


def _json_header(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def usage_wait_seconds(headers) -> float | None:
    """How long Meta asks us to stay away, from its usage headers; None when nothing is throttled.

    `X-Business-Use-Case-Usage` carries `estimated_time_to_regain_access` in minutes per business
    object; `X-App-Usage` / `X-Business-Use-Case-Usage` percentages of 100 mean throttled now.
    """
    waits: list[float] = []
    retry_after = headers.get("Retry-After")
    if retry_after and retry_after.strip().isdigit():
        waits.append(float(retry_after.strip()))
    buc = _json_header(headers.get("X-Business-Use-Case-Usage"))
    usages: list[dict] = []
    if isinstance(buc, dict):
        for entries in buc.values():
            usages.extend(e for e in (entries if isinstance(entries, list) else []) if isinstance(e, dict))
    app = _json_header(headers.get("X-App-Usage"))
    if isinstance(app, dict):
        usages.append(app)
    for usage in usages:
        minutes = usage.get("estimated_time_to_regain_access")
        if isinstance(minutes, int | float) and minutes > 0:
            waits.append(float(minutes) * 60)
        elif any(isinstance(usage.get(k), int | float) and usage[k] >= 100
                 for k in ("call_count", "total_cputime", "total_time")):
            waits.append(60.0)
    return max(waits) if waits else None


@dataclass(frozen=True)
class SendResult:
    message_id: str
    recipient_id: str


@dataclass(frozen=True)
class Profile:
    name: str
    username: str


@dataclass(frozen=True)
class TokenRefresh:
    access_token: str
    expires_in: int


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


_session_lock = threading.Lock()
_session: requests.Session | None = None


def session() -> requests.Session:
    """The process-wide session; with META_SANDBOX it answers from the in-process stand-in."""
    global _session
    with _session_lock:
        if _session is None:
            new = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
            new.mount("https://", adapter)
            new.mount("http://", adapter)
            if settings.META_SANDBOX:
                from integrations.meta.sandbox import SANDBOX_URL, SandboxAdapter

                new.mount(SANDBOX_URL, SandboxAdapter())
            _session = new
        return _session


def base_urls() -> tuple[str, str]:
    """(Messenger Graph URL, Instagram Graph URL)."""
    if settings.META_SANDBOX:
        from integrations.meta.sandbox import SANDBOX_URL

        return SANDBOX_URL + "/facebook", SANDBOX_URL + "/instagram"
    return settings.META_GRAPH_URL, settings.INSTAGRAM_GRAPH_URL


class GraphClient:
    def __init__(self, *, platform: str, account_id: str, token: str, http: requests.Session | None = None,
                 max_attempts: int | None = None, timeout: float | None = None,
                 sleep: Callable[[float], None] | None = None):
        facebook_url, instagram_url = base_urls()
        self.platform = platform
        self.account_id = account_id
        self.token = token
        self.base_url = instagram_url if platform == "instagram" else facebook_url
        self.version = settings.META_GRAPH_VERSION
        self.http = http or session()
        self.max_attempts = max_attempts or settings.META_HTTP_MAX_ATTEMPTS
        self.timeout = (CONNECT_TIMEOUT, timeout or settings.META_HTTP_TIMEOUT)
        self.sleep = sleep or _sleep
        # Set after every response that carried usage headers asking us to slow down.
        self.throttle_seconds: float | None = None

    @classmethod
    def for_channel(cls, channel, **kwargs) -> GraphClient:
        return cls(platform=channel.platform, account_id=channel.account_id, token=channel.access_token, **kwargs)

    # --- operations -----------------------------------------------------------------------------

    def send_text(self, *, recipient_id: str, text: str, tag: str | None = None) -> SendResult:
        body: dict[str, Any] = {"recipient": {"id": recipient_id}, "message": {"text": text}}
        if self.platform == "messenger":
            body["messaging_type"] = "MESSAGE_TAG" if tag else "RESPONSE"
        if tag:
            body["tag"] = tag
        data = self._request("POST", f"{self.account_id}/messages", json_body=body, idempotent=False)
        message_id = data.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            # Meta accepted the call but gave no id: the message may well be out.
            raise GraphError("send answered without a message_id", kind=AMBIGUOUS)
        return SendResult(message_id=message_id, recipient_id=str(data.get("recipient_id", recipient_id)))

    def sender_action(self, *, recipient_id: str, action: str) -> None:
        if action not in {"mark_seen", "typing_on", "typing_off"}:
            raise ValueError(f"unknown sender action {action!r}")
        # Repeating a sender action is harmless, so it may be retried like a read.
        self._request("POST", f"{self.account_id}/messages", idempotent=True,
                      json_body={"recipient": {"id": recipient_id}, "sender_action": action})

    def fetch_profile(self, *, user_id: str) -> Profile:
        fields = "name,username" if self.platform == "instagram" else "name"
        data = self._request("GET", user_id, params={"fields": fields}, idempotent=True)
        name = data.get("name") if isinstance(data.get("name"), str) else ""
        username = data.get("username") if isinstance(data.get("username"), str) else ""
        return Profile(name=name[:200], username=username[:100])

    def refresh_instagram_token(self) -> TokenRefresh:
        if self.platform != "instagram":
            raise ValueError("only Instagram user tokens are refreshed")
        data = self._request(
            "GET", "refresh_access_token", versioned=False, idempotent=True, auth_in_query=True,
            params={"grant_type": "ig_refresh_token"},
        )
        token, expires_in = data.get("access_token"), data.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise GraphError("token refresh answered without access_token/expires_in", kind=OTHER)
        return TokenRefresh(access_token=token, expires_in=expires_in)

    # --- transport ------------------------------------------------------------------------------

    def _url(self, path: str, versioned: bool) -> str:
        return f"{self.base_url}/{self.version}/{path}" if versioned else f"{self.base_url}/{path}"

    def _scrub(self, text: str) -> str:
        return text.replace(self.token, mask(self.token)) if self.token else text

    def _request(self, method: str, path: str, *, idempotent: bool, json_body: dict | None = None,
                 params: dict | None = None, versioned: bool = True, auth_in_query: bool = False) -> dict:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._request_once(method, path, json_body=json_body, params=params,
                                          versioned=versioned, auth_in_query=auth_in_query, idempotent=idempotent)
            except GraphError as exc:
                if exc.permanent or attempt >= self.max_attempts:
                    raise
                wait = backoff_delay(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP)
                if exc.retry_after is not None:
                    if exc.retry_after > INLINE_WAIT_MAX:
                        raise
                    wait = max(wait, exc.retry_after)
                logger.info("graph %s %s: %s; retry %d/%d in %.2fs", method, path.split("/")[-1],
                            exc, attempt, self.max_attempts - 1, wait)
                self.sleep(wait)

    def _request_once(self, method, path, *, json_body, params, versioned, auth_in_query, idempotent) -> dict:
        params = dict(params or {})
        headers = {}
        if auth_in_query:
            params["access_token"] = self.token
        else:
            headers["Authorization"] = f"Bearer {self.token}"
        url = self._url(path, versioned)
        reused = _idle_connection_waiting(self.http, url)
        try:
            response = self.http.request(method, url, json=json_body, params=params or None,
                                         headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            if idempotent or not (reused and _stale_connection(exc)):
                raise self._transport_error(exc, idempotent) from None
            logger.info("graph %s %s: pooled connection was closed before the request went out (%s); "
                        "sending once more on a fresh connection", method, path.split("/")[-1], type(exc).__name__)
            try:
                response = self._fresh_request(method, url, json=json_body, params=params or None, headers=headers)
            except requests.RequestException as retry_exc:
                raise self._transport_error(retry_exc, idempotent) from None
        wait = usage_wait_seconds(response.headers)
        if wait is not None:
            self.throttle_seconds = wait
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code < 400 and isinstance(data, dict) and "error" not in data:
            return data
        error = data.get("error") if isinstance(data, dict) else None
        error = error if isinstance(error, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), int) else None
        subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
        kind = classify(code, subcode, response.status_code)
        if response.status_code < 400 and not error:
            # 2xx with a body that is not a JSON object: Meta did something, we cannot tell what.
            kind = AMBIGUOUS if not idempotent else SERVER
        message = str(error.get("message") or f"HTTP {response.status_code}")[:500]
        retry_after = wait if kind == RATE_LIMIT else None
        if kind == RATE_LIMIT and retry_after is None:
            retry_after = 60.0 if code in (4, 17, 32, 613) else None
        raise GraphError(self._scrub(message), kind=kind, code=code, subcode=subcode,
                         http_status=response.status_code, retry_after=retry_after,
                         fbtrace_id=str(error.get("fbtrace_id") or "")[:64])

    def _fresh_request(self, method: str, url: str, **kwargs) -> requests.Response:
        """The same request on a new connection: a throwaway session with this session's special mounts
        (the sandbox stand-in) but new HTTP adapters, so no pooled connection can be picked."""
        fresh = requests.Session()
        for prefix, adapter in self.http.adapters.items():
            if type(adapter) is not requests.adapters.HTTPAdapter:
                fresh.mount(prefix, adapter)
        try:
            return fresh.request(method, url, timeout=self.timeout, **kwargs)
        finally:
            fresh.close()

    def _transport_error(self, exc: requests.RequestException, idempotent: bool) -> GraphError:
        never_connected = isinstance(exc, requests.ConnectTimeout) or _caused_by(exc, NewConnectionError)
        if never_connected or idempotent:
            kind = NETWORK
        else:
            kind = AMBIGUOUS
        return GraphError(self._scrub(f"{type(exc).__name__}: {exc}")[:500], kind=kind)


def _idle_connection_waiting(http: requests.Session, url: str) -> bool:
    """Will this request go out on a pooled keep-alive connection (one used before)?

    urllib3 keeps idle connections in a LIFO queue pre-filled with None placeholders; the next request
    takes the top item, and a connection object there is a reused one. Anything unexpected answers False
    (then no retry happens: the safe side)."""
    try:
        adapter = http.get_adapter(url)
        if type(adapter) is not requests.adapters.HTTPAdapter:
            return False
        # The pool requests itself will use (same key: scheme, host, port and TLS settings).
        # verify as Session.request merges it (REQUESTS_CA_BUNDLE and the like are part of the key).
        verify = http.merge_environment_settings(url, {}, None, None, None)["verify"]
        pool = adapter.get_connection_with_tls_context(requests.Request("POST", url).prepare(), verify=verify)
        queue = pool.pool.queue
        return bool(queue) and queue[-1] is not None
    except Exception:  # noqa: BLE001 - internals moved: behave as before (no retry)
        return False


def _stale_connection(exc: requests.RequestException) -> bool:
    """The failure of a request written to a connection the server had closed: no answer at all."""
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.ConnectTimeout):
        return False
    return any(_caused_by(exc, cls) for cls in (http.client.RemoteDisconnected, ConnectionResetError,
                                                 BrokenPipeError))


def _caused_by(exc: BaseException, cls: type) -> bool:
    seen = 0
    stack: list[Any] = [exc]
    while stack and seen < 20:
        current = stack.pop()
        seen += 1
        if isinstance(current, cls):
            return True
        if isinstance(current, BaseException):
            stack.extend(a for a in current.args if isinstance(a, BaseException))
            stack.extend(getattr(current, attr, None) for attr in ("reason", "__cause__", "__context__"))
            stack = [s for s in stack if s is not None]
    return False

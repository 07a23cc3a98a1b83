"""Provider adapters: one function per wire format, each returning a `Completion` or raising `LLMError`.

Anthropic goes through the `anthropic` SDK (Messages API; structured output is a forced tool call
whose input schema is the caller's JSON schema). OpenAI, Azure OpenAI, Ollama and OpenAI-compatible
servers go through the `openai` SDK (Chat Completions with a `json_schema` response format).
`stream` is the same exchange with the SDKs' streaming APIs (text answers only), handing each piece of
text to a callback as it arrives; the callback's False stops the answer (the reader pressed stop).

The SDKs' own retries are off (`max_retries=0`): the gateway owns retries, so it can count attempts,
honour its limits and record one usage row per call. Clients are cached per configuration and per
thread (`_per_thread`): building one creates a connection pool, and one pool shared by a worker's
many threads costs more than it saves (see there).
"""

from __future__ import annotations

import email.utils
import functools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import anthropic
import httpx2  # the HTTP client both SDKs are built on
import openai

from integrations.llm.base import CallParams, Completion, ProviderConfig
from integrations.llm.errors import ErrorKind, LLMError, scrub
from integrations.llm.schema import SchemaViolation, parse_json_object, validate

ANTHROPIC_DEFAULT_URL = "https://api.anthropic.com"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
# Ollama and most self-hosted servers ignore the key, but the SDK insists on one; a placeholder
# also keeps the SDK from reading OPENAI_API_KEY from the environment (someone else's key).
KEYLESS_PLACEHOLDER = "sidekick-no-key"


def complete(config: ProviderConfig, params: CallParams) -> Completion:
    """One HTTP exchange with the provider described by `config`."""
    if config.kind == "anthropic":
        return _anthropic_complete(config, params)
    if config.kind in {"openai", "azure_openai", "ollama", "openai_compatible"}:
        return _openai_complete(config, params)
    raise LLMError(f"unknown provider kind {config.kind!r}", kind=ErrorKind.CONFIG)


STOPPED = "stopped"  # the stop reason of an answer the caller's callback stopped


class StreamBroken(LLMError):
    """The answer failed after part of it arrived (connection lost, or the provider's error event);
    `text` is that part (kept by the caller). `input_tokens` / `output_tokens`: what the provider
    reported before failing, or None; the gateway fills in estimates and sets `tokens_estimated`."""

    def __init__(self, message: str, *, text: str, kind: str = ErrorKind.CONNECTION, input_tokens: int | None = None,
                 output_tokens: int | None = None):
        super().__init__(message, kind=kind, permanent=True)
        self.text = text
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.tokens_estimated = False


def stream(config: ProviderConfig, params: CallParams, on_delta: Callable[[str], bool]) -> Completion:
    """One streamed exchange: `on_delta(text)` for each piece as it arrives; returning False stops it.

    Text only (no schema). A stopped answer returns what arrived with stop reason STOPPED and its output
    tokens estimated (the provider reports them only at the end). An answer whose stream ends without the
    provider's closing event raises StreamBroken, as a dropped connection does.
    """
    if params.schema is not None:
        raise ValueError("streaming takes no schema: structured answers use complete()")
    if config.kind == "anthropic":
        return _anthropic_stream(config, params, on_delta)
    if config.kind in {"openai", "azure_openai", "ollama", "openai_compatible"}:
        return _openai_stream(config, params, on_delta)
    raise LLMError(f"unknown provider kind {config.kind!r}", kind=ErrorKind.CONFIG)


def estimated_tokens(text: str) -> int:
    return len(text) // 4 + 1


def _broken(parts: list[str], exc: Exception | None, config: ProviderConfig, *, input_tokens: int | None = None,
            output_tokens: int | None = None) -> LLMError:
    detail = scrub(f"{type(exc).__name__}: {exc}", config.api_key) if exc else "no closing event"
    text = "".join(parts)
    if not text:
        return LLMError(f"cannot reach the provider: {detail}", kind=ErrorKind.CONNECTION)
    return StreamBroken(f"the provider's answer broke off after {len(text)} characters: {detail}", text=text,
                        input_tokens=input_tokens, output_tokens=output_tokens)


def _failed_midway(parts: list[str], exc: Exception, config: ProviderConfig, *, input_tokens: int | None = None,
                   output_tokens: int | None = None) -> StreamBroken:
    """The provider's own error event after part of the answer (Anthropic sends `overloaded_error` inside a
    200 response): what arrived is kept and billed, like a dropped connection."""
    error = _map_sdk_error(exc, config)
    kind = ErrorKind.SERVER if (error.status or 0) < 300 else error.kind
    text = "".join(parts)
    return StreamBroken(f"the provider's answer failed after {len(text)} characters: {error.message}", text=text,
                        kind=kind, input_tokens=input_tokens, output_tokens=output_tokens)


CLIENTS_PER_THREAD = 8  # configurations a thread keeps a client for; the least recently used is closed


def _per_thread(factory):
    """Cache `factory(config)` per thread and configuration, keeping the newest CLIENTS_PER_THREAD.

    Each SDK client owns an httpx connection pool whose bookkeeping walks every connection of the pool
    under one lock, twice per request. Shared by a Celery worker's 128 threads (each waiting on its own
    model call, so about 128 connections), that walk was half the SDK's CPU per call (py-spy, GIL
    samples, bench/pipeline.py). A client per thread keeps one connection per pool and the same number
    of connections in all. Their TLS settings are built once per process (`_tls_context`).
    """
    local = threading.local()

    @functools.wraps(factory)
    def cached(config: ProviderConfig):
        clients = getattr(local, "clients", None)
        if clients is None:
            clients = local.clients = OrderedDict()
        client = clients.get(config)
        if client is None:
            client = clients[config] = factory(config)
            while len(clients) > CLIENTS_PER_THREAD:
                clients.popitem(last=False)[1].close()
        else:
            clients.move_to_end(config)
        return client

    return cached


@functools.cache
def _tls_context():
    """The TLS context an SDK client would build for itself (CA bundle, SSL_CERT_FILE / SSL_CERT_DIR), built
    once: loading the CA bundle is ~20 ms of CPU, paid by every new client otherwise. Thread-safe to share."""
    return httpx2.create_ssl_context()


# --- Anthropic ------------------------------------------------------------------------------------

@_per_thread
def _anthropic_client(config: ProviderConfig) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=config.api_key or KEYLESS_PLACEHOLDER,
        base_url=config.base_url or ANTHROPIC_DEFAULT_URL,
        max_retries=0,
        http_client=anthropic.DefaultHttpxClient(verify=_tls_context()),  # the SDK's defaults otherwise
    )


def _anthropic_complete(config: ProviderConfig, params: CallParams) -> Completion:
    kwargs = {
        "model": config.model,
        "max_tokens": params.max_tokens,
        "system": params.system,
        "messages": [{"role": m["role"], "content": m["content"]} for m in params.messages],
        "timeout": params.timeout,
    }
    # No temperature: the Messages API version the SDK speaks (2026-10-21) rejects sampling parameters.
    if params.schema is not None:
        kwargs["tools"] = [{
            "name": params.schema_name,
            "description": "Give your answer by calling this tool with arguments matching its schema.",
            "input_schema": params.schema,
        }]
        kwargs["tool_choice"] = {"type": "tool", "name": params.schema_name}
    try:
        message = _anthropic_client(config).messages.create(**kwargs)
    except anthropic.AnthropicError as exc:
        raise _map_sdk_error(exc, config) from None
    except ValueError as exc:  # a JSON body that does not decode
        raise LLMError(f"provider sent malformed JSON: {exc}", kind=ErrorKind.BAD_RESPONSE) from None

    try:
        blocks = list(message.content)
        text = "".join(b.text for b in blocks if getattr(b, "type", None) == "text")
        tool_inputs = [b.input for b in blocks
                       if getattr(b, "type", None) == "tool_use" and getattr(b, "name", None) == params.schema_name]
        usage = message.usage
        input_tokens, output_tokens = int(usage.input_tokens or 0), int(usage.output_tokens or 0)
        model, stop_reason = message.model, message.stop_reason
    except (AttributeError, TypeError, ValueError):
        raise LLMError(_bad_shape(message), kind=ErrorKind.BAD_RESPONSE) from None

    parsed = raw = None
    if params.schema is not None:
        if tool_inputs:
            raw = json.dumps(tool_inputs[0], ensure_ascii=False)
            parsed = tool_inputs[0]
            text = raw
        else:
            raw = text  # the model answered in prose instead of calling the tool
    return Completion(text=text, parsed=parsed, input_tokens=input_tokens, output_tokens=output_tokens,
                      model=model or config.model, stop_reason=stop_reason, raw_structured=raw)


def _anthropic_stream(config: ProviderConfig, params: CallParams, on_delta) -> Completion:
    # The raw events (create(stream=True)) rather than the SDK's messages.stream() helper: the helper also
    # keeps a snapshot of the whole message, updated per event, that nothing here needs; without it the
    # worker's parse is ~0.06 ms of CPU per piece instead of ~0.12 (bench/assistant_stream.py is CPU-bound).
    # What is needed: the text deltas, and what message_start and message_delta report (model, tokens,
    # stop reason), kept as they come so that a failure midway still counts the tokens reported so far.
    kwargs = {
        "model": config.model,
        "max_tokens": params.max_tokens,
        "system": params.system,
        "messages": [{"role": m["role"], "content": m["content"]} for m in params.messages],
        "timeout": params.timeout,
        "stream": True,
    }
    parts: list[str] = []
    stopped = False
    started = False  # message_start arrived: its usage is the provider's report so far
    model = stop_reason = None
    input_tokens = output_tokens = 0

    def reported() -> tuple[int | None, int | None]:
        """Tokens message_start (input) and any message_delta (output) reported before a failure."""
        if not started:
            return None, None
        return input_tokens or None, output_tokens if output_tokens > 1 else None  # message_start's placeholder 1

    try:
        with _anthropic_client(config).messages.create(**kwargs) as events:
            for event in events:
                kind = event.type
                if kind == "content_block_delta":
                    if event.delta.type == "text_delta":
                        parts.append(event.delta.text)
                        if not on_delta(event.delta.text):
                            stopped = True
                            break
                elif kind == "message_start":
                    started, model = True, event.message.model
                    input_tokens = int(event.message.usage.input_tokens or 0)
                    output_tokens = int(event.message.usage.output_tokens or 0)
                elif kind == "message_delta":
                    # Cumulative totals; an input count only when the provider revises it.
                    stop_reason = event.delta.stop_reason
                    output_tokens = int(event.usage.output_tokens or 0)
                    if event.usage.input_tokens is not None:
                        input_tokens = int(event.usage.input_tokens)
    except anthropic.APIStatusError as exc:
        if parts:
            reported_input, reported_output = reported()
            raise _failed_midway(parts, exc, config, input_tokens=reported_input,
                                 output_tokens=reported_output) from None
        raise _map_sdk_error(exc, config) from None
    except (anthropic.AnthropicError, httpx2.HTTPError) as exc:
        if not parts and isinstance(exc, anthropic.AnthropicError):
            raise _map_sdk_error(exc, config) from None  # before any text: a timeout is a timeout
        # Mid-answer (connection lost, read timeout, an incomplete chunked body): what arrived is kept.
        reported_input, reported_output = reported()
        raise _broken(parts, exc, config, input_tokens=reported_input, output_tokens=reported_output) from None
    text = "".join(parts)
    if stopped:
        return Completion(text=text, parsed=None, input_tokens=input_tokens,
                          output_tokens=max(output_tokens, estimated_tokens(text)),
                          model=model or config.model, stop_reason=STOPPED)
    if stop_reason is None:
        raise _broken(parts, None, config)
    return Completion(text=text, parsed=None, input_tokens=input_tokens, output_tokens=output_tokens,
                      model=model or config.model, stop_reason=stop_reason)


# --- OpenAI family --------------------------------------------------------------------------------

@_per_thread
def _openai_client(config: ProviderConfig) -> openai.OpenAI:
    key = config.api_key or KEYLESS_PLACEHOLDER
    if config.kind == "azure_openai":
        # The deployment is the model name: the client routes /chat/completions to
        # {endpoint}/openai/deployments/{model}/chat/completions?api-version=...
        return openai.AzureOpenAI(azure_endpoint=config.base_url, api_version=config.api_version,
                                  api_key=key, max_retries=0, http_client=_openai_http_client())
    base_url = config.base_url or OPENAI_DEFAULT_URL
    if config.kind == "ollama" and not base_url.rstrip("/").endswith("/v1"):
        base_url = base_url.rstrip("/") + "/v1"  # Ollama's OpenAI-compatible API lives under /v1
    return openai.OpenAI(api_key=key, base_url=base_url, max_retries=0, http_client=_openai_http_client())


def _openai_http_client() -> openai.DefaultHttpxClient:
    return openai.DefaultHttpxClient(verify=_tls_context())  # the SDK's defaults otherwise


def _openai_complete(config: ProviderConfig, params: CallParams) -> Completion:
    messages = [{"role": "system", "content": params.system}] if params.system else []
    messages += [{"role": m["role"], "content": m["content"]} for m in params.messages]
    kwargs = {"model": config.model, "messages": messages, "timeout": params.timeout}
    # OpenAI's newer models reject max_tokens; Azure (older API versions) and local servers want it.
    kwargs["max_completion_tokens" if config.kind == "openai" else "max_tokens"] = params.max_tokens
    if params.temperature is not None:
        kwargs["temperature"] = params.temperature
    if params.schema is not None:
        kwargs["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": params.schema_name, "schema": params.schema, "strict": False},
        }
    try:
        completion = _openai_client(config).chat.completions.create(**kwargs)
    except openai.OpenAIError as exc:
        raise _map_sdk_error(exc, config) from None
    except ValueError as exc:
        raise LLMError(f"provider sent malformed JSON: {exc}", kind=ErrorKind.BAD_RESPONSE) from None

    try:
        choice = completion.choices[0]
        content = choice.message.content or ""
        tool_calls = choice.message.tool_calls or []
        usage = completion.usage
        input_tokens = int(usage.prompt_tokens or 0) if usage else 0
        output_tokens = int(usage.completion_tokens or 0) if usage else 0
        model, stop_reason = completion.model, choice.finish_reason
    except (AttributeError, TypeError, ValueError, IndexError):
        raise LLMError(_bad_shape(completion), kind=ErrorKind.BAD_RESPONSE) from None

    parsed = raw = None
    if params.schema is not None:
        # Some compatible servers answer a schema request with a tool call; accept either.
        raw = tool_calls[0].function.arguments if tool_calls and not content else content
    return Completion(text=content or (raw or ""), parsed=parsed, input_tokens=input_tokens,
                      output_tokens=output_tokens, model=model or config.model, stop_reason=stop_reason,
                      raw_structured=raw)


def _openai_stream(config: ProviderConfig, params: CallParams, on_delta) -> Completion:
    messages = [{"role": "system", "content": params.system}] if params.system else []
    messages += [{"role": m["role"], "content": m["content"]} for m in params.messages]
    kwargs = {"model": config.model, "messages": messages, "timeout": params.timeout, "stream": True,
              # The token counts come in a last chunk only when asked for.
              "stream_options": {"include_usage": True}}
    kwargs["max_completion_tokens" if config.kind == "openai" else "max_tokens"] = params.max_tokens
    if params.temperature is not None:
        kwargs["temperature"] = params.temperature
    parts: list[str] = []
    stopped = False
    finish = usage = None
    model = config.model
    try:
        events = _openai_client(config).chat.completions.create(**kwargs)
        try:
            for chunk in events:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = chunk.usage
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                finish = choice.finish_reason or finish
                text = choice.delta.content if choice.delta is not None else None
                if text:
                    parts.append(text)
                    if not on_delta(text):
                        stopped = True
                        break
        finally:
            events.close()
    except openai.APIStatusError as exc:
        if parts:
            raise _failed_midway(parts, exc, config) from None
        raise _map_sdk_error(exc, config) from None
    except (openai.OpenAIError, httpx2.HTTPError) as exc:
        if not parts and isinstance(exc, openai.OpenAIError):
            raise _map_sdk_error(exc, config) from None  # before any text: a timeout is a timeout
        raise _broken(parts, exc, config) from None
    text = "".join(parts)
    input_tokens = int(usage.prompt_tokens or 0) if usage else 0
    output_tokens = int(usage.completion_tokens or 0) if usage else 0
    if stopped:
        return Completion(text=text, parsed=None, input_tokens=input_tokens,
                          output_tokens=max(output_tokens, estimated_tokens(text)), model=model, stop_reason=STOPPED)
    if finish is None:
        raise _broken(parts, None, config)
    if usage is None:  # a compatible server that ignores stream_options: estimate, as for a stopped answer
        output_tokens = estimated_tokens(text)
        input_tokens = estimated_tokens(params.system + "".join(m["content"] for m in params.messages))
    return Completion(text=text, parsed=None, input_tokens=input_tokens, output_tokens=output_tokens, model=model,
                      stop_reason=finish)


# --- Structured output ----------------------------------------------------------------------------

def structured_output(completion: Completion, schema: dict) -> dict:
    """The completion's structured output checked against `schema`; raises SchemaViolation."""
    value = completion.parsed
    if value is None:
        if not completion.raw_structured:
            raise SchemaViolation(f"no structured output (stop reason {completion.stop_reason!r})")
        value = parse_json_object(completion.raw_structured)
    if not isinstance(value, dict):
        raise SchemaViolation("structured output is not an object")
    validate(value, schema)
    return value


# --- Errors ---------------------------------------------------------------------------------------

def _bad_shape(body) -> str:
    if isinstance(body, str):
        return f"provider sent a non-JSON body: {body[:120]!r}"
    return f"provider response is missing expected fields ({type(body).__name__})"


def _retry_after(response) -> float | None:
    if response is None:
        return None
    headers = response.headers
    if value := headers.get("retry-after-ms"):
        try:
            return float(value) / 1000
        except ValueError:
            pass
    if value := headers.get("retry-after"):
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    return None


def _error_code(body) -> str:
    """The error code: the openai SDK hands over the inner `error` object, anthropic the whole body."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("code") or error.get("type") or "")
    return ""


def _map_sdk_error(exc: Exception, config: ProviderConfig) -> LLMError:
    """An SDK exception (either SDK: their classes mirror each other) as a typed, scrubbed LLMError."""
    text = scrub(getattr(exc, "message", None) or str(exc), config.api_key)
    timeout_types = (anthropic.APITimeoutError, openai.APITimeoutError)
    connection_types = (anthropic.APIConnectionError, openai.APIConnectionError)
    status_types = (anthropic.APIStatusError, openai.APIStatusError)
    validation_types = (anthropic.APIResponseValidationError, openai.APIResponseValidationError)
    if isinstance(exc, timeout_types):
        return LLMError(f"no response within the timeout: {text}", kind=ErrorKind.TIMEOUT)
    if isinstance(exc, connection_types):
        cause = exc.__cause__ or exc.__context__
        detail = scrub(str(cause), config.api_key) if cause else text
        return LLMError(f"cannot reach the provider: {detail}", kind=ErrorKind.CONNECTION)
    if isinstance(exc, validation_types):
        return LLMError(f"provider response does not match its API: {text}", kind=ErrorKind.BAD_RESPONSE)
    if isinstance(exc, status_types):
        status = exc.status_code
        retry_after = _retry_after(getattr(exc, "response", None))
        code = _error_code(getattr(exc, "body", None))
        if status in (401, 403):
            kind = ErrorKind.AUTH
        elif status == 402 or (status == 429 and code == "insufficient_quota"):
            kind = ErrorKind.BILLING  # out of credit: waiting will not help
        elif status == 429:
            kind = ErrorKind.RATE_LIMIT
        elif status == 408:
            kind = ErrorKind.TIMEOUT
        elif status == 404:
            kind = ErrorKind.NOT_FOUND
        elif status >= 500 or status == 409:
            kind = ErrorKind.SERVER
        else:
            kind = ErrorKind.BAD_REQUEST
        return LLMError(f"HTTP {status}: {text}", kind=kind, status=status, retry_after=retry_after)
    return LLMError(f"provider client error: {text}", kind=ErrorKind.CONFIG)

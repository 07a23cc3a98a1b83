"""Meta webhook: GET subscription verification, POST event intake.

The POST path does the least that makes a delivery durable: cap the size, verify the signature over
the raw bytes, insert one row, enqueue after commit, answer 200. Parsing into contacts and messages
happens in the worker. Anything but a 200 makes Meta retry (and eventually disable the webhook), so
only a bad signature (403) or an oversized body (413) is refused.
"""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt

from integrations import services
from integrations.meta import signature


@csrf_exempt
def webhook(request):
    if request.method == "GET":
        return _verify_subscription(request)
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.META_WEBHOOK_MAX_BYTES:
        return HttpResponse("payload too large", status=413, content_type="text/plain")
    body = request.read(settings.META_WEBHOOK_MAX_BYTES + 1)
    if len(body) > settings.META_WEBHOOK_MAX_BYTES:
        return HttpResponse("payload too large", status=413, content_type="text/plain")
    signed_by = signature.verify(body, request.headers.get("X-Hub-Signature-256"))
    if signed_by is None:
        return HttpResponseForbidden("bad signature", content_type="text/plain")
    services.webhook_event_store(body=body, signed_by=signed_by, error=_unusable(body))
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")


def _unusable(body: bytes) -> str:
    """Why a signed body cannot be processed, or "" when it is a JSON object with an entry list.

    Such a body is still stored (as failed, for inspection) and answered 200: Meta signed it, and
    anything but a 200 makes it retry the same bytes until it disables the webhook.
    """
    try:
        data = json.loads(body)
    except RecursionError:  # nesting deeper than the interpreter's stack (a 2 MB body reaches ~1M)
        return "malformed JSON: nested too deeply"
    except ValueError as exc:  # includes UnicodeDecodeError (invalid UTF-8)
        return f"malformed JSON: {exc}"[:500]
    if not isinstance(data, dict):
        return f"unusable JSON: the body is a {type(data).__name__}, not an object"
    if not isinstance(data.get("entry"), list):
        return "unusable JSON: no entry list"
    return ""


def _verify_subscription(request):
    expected = settings.META_VERIFY_TOKEN
    token = request.GET.get("hub.verify_token", "")
    if (
        expected
        and request.GET.get("hub.mode") == "subscribe"
        and hmac.compare_digest(token.encode(), expected.encode())
    ):
        return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
    return HttpResponseForbidden("verification failed", content_type="text/plain")

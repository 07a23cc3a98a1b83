"""A short path through the middleware stack for the Meta webhook.

The webhook is a machine endpoint: signed by Meta, no cookies, no user, no HTML. Sessions, CSRF
(it is exempt), authentication, messages, clickjacking headers and htmx do nothing for it, yet cost
about a quarter of its CPU time (URL resolution through every app's patterns, the messages
storage, the lazy user and session objects). This middleware sits right after SecurityMiddleware
(HTTPS redirect and security headers still apply) and hands both webhook paths straight to the view.
"""

from __future__ import annotations

from integrations.meta import views as meta_views

WEBHOOK_PATHS = frozenset({"/webhooks/meta/", "/webhooks/meta"})  # as in integrations/urls.py


class MetaWebhookShortcutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info in WEBHOOK_PATHS:
            response = meta_views.webhook(request)
            # What CommonMiddleware would add: without it the answer goes out chunked.
            if not response.streaming and not response.has_header("Content-Length"):
                response.headers["Content-Length"] = str(len(response.content))
            return response
        return self.get_response(request)

"""The stream server: an ASGI process that serves the assistant's live answers and nothing else.

`make run` starts it (uvicorn) on RUN_PORT + 1 beside gunicorn. A reader of a live answer waits minutes on
Redis for the next piece; in gunicorn that would hold one of its 16 request threads each, so 16 open
answers would stall the dashboard. Here a waiting reader is a coroutine (assistant.stream.relay_async);
the view's checks (login, membership, the answer being the user's own) run as in gunicorn, then the
database connection is given back. Every other path is a 404, so this port never becomes a second,
differently tuned copy of the app.
"""

import os
import re

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sidekick_project.settings")

django_application = get_asgi_application()
STREAM_PATH = re.compile(r"^/w/[-\w]+/assistant/messages/\d+/stream/$")


async def application(scope, receive, send):
    if scope["type"] != "http" or not STREAM_PATH.match(scope["path"]):
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": b"This server relays the assistant's live answers only."})
        return
    await django_application(scope, receive, send)

"""The ceiling for bench/webhook.py: the same Django stack with a view that does nothing.

Mounted only when BENCH=1.
"""

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bare(request):
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")

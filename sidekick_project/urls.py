from django.conf import settings
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from accounts import views as account_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", account_views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page says; the icon itself is a static SVG.
    path("favicon.ico", lambda request: HttpResponseRedirect(static("favicon.svg"))),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("insights.urls")),
    path("", include("evals.urls")),
    path("", include("integrations.urls")),
    path("", include("knowledge.urls")),
    path("", include("conversations.urls")),
    path("", include("contacts.urls")),
    path("", include("assistant.urls")),
    path("", include("privacy.urls")),
]

if settings.BENCH:
    from sidekick_project import bench

    urlpatterns.append(path("bench/bare", bench.bare))

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", account_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("insights.urls")),
    path("", include("integrations.urls")),
    path("", include("knowledge.urls")),
    path("", include("conversations.urls")),
    path("", include("contacts.urls")),
]

if settings.BENCH:
    from sidekick_project import bench

    urlpatterns.append(path("bench/bare", bench.bare))

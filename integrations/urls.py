from django.urls import path

from integrations import views
from integrations.meta import views as meta_views

app_name = "integrations"

urlpatterns = [
    # Meta is configured with one of these; both answer directly (no slash redirect for a POST).
    path("webhooks/meta/", meta_views.webhook, name="meta_webhook"),
    path("webhooks/meta", meta_views.webhook),
    path("w/<slug:workspace_slug>/settings/channels/", views.channel_list, name="channels"),
]

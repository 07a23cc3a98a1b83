from django.urls import path

from integrations import views
from integrations.llm import views as llm_views
from integrations.meta import views as meta_views

app_name = "integrations"

urlpatterns = [
    # Meta is configured with one of these; both answer directly (no slash redirect for a POST).
    path("webhooks/meta/", meta_views.webhook, name="meta_webhook"),
    path("webhooks/meta", meta_views.webhook),
    path("w/<slug:workspace_slug>/settings/channels/", views.channel_list, name="channels"),
    path("w/<slug:workspace_slug>/settings/channels/connect/", views.channel_connect, name="channel_connect"),
    path("w/<slug:workspace_slug>/settings/llm/", llm_views.llm_providers, name="llm_providers"),
    path("w/<slug:workspace_slug>/settings/llm/add/", llm_views.llm_provider_add, name="llm_provider_add"),
    path("w/<slug:workspace_slug>/settings/llm/<int:provider_id>/test/", llm_views.llm_provider_test,
         name="llm_provider_test"),
    path("w/<slug:workspace_slug>/settings/llm/<int:provider_id>/default/", llm_views.llm_provider_default,
         name="llm_provider_default"),
    path("w/<slug:workspace_slug>/settings/usage/", llm_views.llm_usage, name="llm_usage"),
    path("w/<slug:workspace_slug>/sandbox/", views.sandbox, name="sandbox"),
    path("w/<slug:workspace_slug>/sandbox/send/", views.sandbox_send, name="sandbox_send"),
]

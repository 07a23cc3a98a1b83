from django.urls import path

from integrations import views
from integrations.llm import views as llm_views
from integrations.meta import views as meta_views

app_name = "integrations"

channels = "w/<slug:workspace_slug>/settings/channels/"

urlpatterns = [
    # Meta is configured with one of these; both answer directly (no slash redirect for a POST).
    path("webhooks/meta/", meta_views.webhook, name="meta_webhook"),
    path("webhooks/meta", meta_views.webhook),
    # The redirect URIs registered in the Meta apps: fixed, so they forward to the workspace callback.
    path("oauth/meta/instagram/", views.oauth_return, {"platform": "instagram"}, name="oauth_return_instagram"),
    path("oauth/meta/messenger/", views.oauth_return, {"platform": "messenger"}, name="oauth_return_messenger"),
    path(channels, views.channel_list, name="channels"),
    path(channels + "instagram/connect/", views.channel_connect_start, {"platform": "instagram"},
         name="channel_connect_instagram"),
    path(channels + "instagram/callback/", views.channel_callback_instagram, name="channel_callback_instagram"),
    path(channels + "messenger/connect/", views.channel_connect_start, {"platform": "messenger"},
         name="channel_connect_messenger"),
    path(channels + "messenger/callback/", views.channel_callback_messenger, name="channel_callback_messenger"),
    path(channels + "messenger/pages/", views.channel_messenger_pages, name="channel_messenger_pages"),
    path(channels + "connect/", views.channel_connect, name="channel_connect"),
    path("w/<slug:workspace_slug>/settings/llm/", llm_views.llm_providers, name="llm_providers"),
    path("w/<slug:workspace_slug>/settings/llm/add/", llm_views.llm_provider_add, name="llm_provider_add"),
    path("w/<slug:workspace_slug>/settings/llm/<int:provider_id>/test/", llm_views.llm_provider_test,
         name="llm_provider_test"),
    path("w/<slug:workspace_slug>/settings/llm/<int:provider_id>/default/", llm_views.llm_provider_default,
         name="llm_provider_default"),
    path("w/<slug:workspace_slug>/settings/usage/", llm_views.llm_usage, name="llm_usage"),
    path("w/<slug:workspace_slug>/settings/limits/", llm_views.llm_limits, name="llm_limits"),
]

from django.contrib import admin

from integrations.llm import admin as llm_admin  # noqa: F401  (registers the LLM models)
from integrations.models import Channel, SandboxSend, WebhookEvent


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["__str__", "workspace", "platform", "account_id", "status", "token_masked", "token_expires_at"]
    list_filter = ["platform", "status"]
    search_fields = ["name", "account_id", "workspace__slug"]
    list_select_related = ["workspace"]
    # The token is never shown, not even to super-admins; reconnecting replaces it.
    exclude = ["access_token"]
    readonly_fields = ["token_masked", "token_refreshed_at", "last_error", "last_error_at", "rate_limited_until",
                       "connected_by", "created_at", "updated_at"]

    @admin.display(description="token")
    def token_masked(self, obj):
        return obj.token_masked


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["pk", "received_at", "status", "attempts", "items_total", "items_ignored", "signed_by"]
    list_filter = ["status", "signed_by"]
    # The raw body is bytes and not searchable; find events by id or by their error text.
    search_fields = ["=id", "error"]
    exclude = ["body"]
    readonly_fields = ["body_text", "signed_by", "received_at", "status", "attempts", "claimed_at", "processed_at",
                       "items_total", "items_ignored", "error"]

    @admin.display(description="body")
    def body_text(self, obj):
        return bytes(obj.body)[:20000].decode("utf-8", "replace")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SandboxSend)
class SandboxSendAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "recipient_id", "kind", "message_id"]
    list_filter = ["kind"]
    search_fields = ["recipient_id", "message_id", "account_id"]

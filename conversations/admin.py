from django.contrib import admin

from conversations.models import Message, Thread


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ["pk", "workspace", "channel", "contact", "last_message_at", "unread_count", "ai_paused", "needs_human"]
    list_filter = ["ai_paused", "needs_human", "app_has_control"]
    list_select_related = ["workspace", "channel", "contact"]
    search_fields = ["contact__display_name", "contact__username", "contact__external_id", "workspace__slug"]
    raw_id_fields = ["contact", "channel"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["pk", "thread", "direction", "sender_kind", "kind", "send_status", "sent_at", "mid"]
    list_filter = ["direction", "sender_kind", "send_status", "kind"]
    search_fields = ["mid", "idempotency_key"]
    raw_id_fields = ["thread", "channel", "sent_by"]

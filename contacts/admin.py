from django.contrib import admin

from contacts.models import BookingEvent, Contact


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "workspace", "channel", "stage", "sentiment", "lead_score", "opted_out", "last_inbound_at"]
    list_filter = ["stage", "sentiment", "opted_out"]
    search_fields = ["display_name", "username", "external_id", "workspace__slug"]
    list_select_related = ["workspace", "channel"]
    raw_id_fields = ["channel"]


@admin.register(BookingEvent)
class BookingEventAdmin(admin.ModelAdmin):
    list_display = ["contact", "kind", "occurred_at"]
    list_filter = ["kind"]
    search_fields = ["contact__display_name", "contact__username", "contact__workspace__slug"]
    raw_id_fields = ["contact"]

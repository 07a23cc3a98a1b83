from django.contrib import admin
from django.contrib.auth.models import Group

from accounts.models import AuditEvent, Invitation, Membership, User, Workspace

# Roles are workspace memberships; Django's groups and permissions are not used.
admin.site.unregister(Group)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "full_name", "is_active", "is_superadmin", "date_joined", "last_login"]
    list_filter = ["is_active"]
    search_fields = ["email", "full_name"]
    ordering = ["email"]
    readonly_fields = ["date_joined", "last_login"]
    fields = ["email", "full_name", "is_active", "date_joined", "last_login"]

    @admin.display(boolean=True, description="super-admin")
    def is_superadmin(self, obj):
        return obj.is_superadmin


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "workspace__slug", "workspace__name"]
    list_select_related = ["user", "workspace"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "workspace", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["email", "workspace__slug"]
    list_select_related = ["workspace"]
    exclude = ["token_hash"]
    readonly_fields = ["invited_by", "accepted_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "workspace", "actor", "verb", "target"]
    list_filter = ["verb"]
    search_fields = ["verb", "target", "actor__email", "workspace__slug"]
    list_select_related = ["workspace", "actor"]

    def has_change_permission(self, request, obj=None):
        return False  # the audit trail is append-only

    def has_delete_permission(self, request, obj=None):
        return False

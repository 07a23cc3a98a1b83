from django.contrib import admin


class SuperAdminSite(admin.AdminSite):
    """Only super-admins (SUPERADMIN_EMAILS) get in; workspace admins use the dashboard."""

    site_header = "Sidekick operations"
    site_title = "Sidekick admin"
    index_title = "Super-admin"

    def has_permission(self, request):
        return request.user.is_active and getattr(request.user, "is_superadmin", False)

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    default = True
    name = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self):
        # System checks (accounts.E001) and the axes lockout receiver register on import.
        from accounts import checks, throttle  # noqa: F401


class SidekickAdminConfig(admin_apps.AdminConfig):
    """The Django admin, reachable only by super-admins (see accounts.admin_site)."""

    default = False
    default_site = "accounts.admin_site.SuperAdminSite"

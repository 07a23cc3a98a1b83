"""Super-admin views of LLM providers, quota policies and usage. Keys are write-only here."""

from django import forms
from django.contrib import admin

from integrations.llm.models import LLMProvider, LLMQuotaPolicy, LLMUsage


class LLMProviderForm(forms.ModelForm):
    new_api_key = forms.CharField(
        label="API key", required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave empty to keep the stored key.",
    )
    clear_api_key = forms.BooleanField(label="Remove the stored key", required=False)
    base_url = forms.URLField(required=False, max_length=500, assume_scheme="https",
                              help_text=LLMProvider._meta.get_field("base_url").help_text)

    class Meta:
        model = LLMProvider
        fields = ["workspace", "user", "kind", "model", "temperature", "max_tokens", "base_url", "api_version",
                  "is_default"]

    def _post_clean(self):
        # Put the key on the instance before model validation, which checks per-kind requirements.
        if self.cleaned_data.get("clear_api_key"):
            self.instance.api_key = ""
        elif self.cleaned_data.get("new_api_key"):
            self.instance.api_key = self.cleaned_data["new_api_key"]
        super()._post_clean()

    def _update_errors(self, errors):
        # Model validation speaks of `api_key`; on this form the key is typed into `new_api_key`.
        if hasattr(errors, "error_dict") and "api_key" in errors.error_dict:
            errors.error_dict["new_api_key"] = errors.error_dict.pop("api_key")
        super()._update_errors(errors)


@admin.register(LLMProvider)
class LLMProviderAdmin(admin.ModelAdmin):
    form = LLMProviderForm
    list_display = ["workspace", "user", "kind", "model", "is_default", "masked_key", "base_url", "updated_at"]
    list_filter = ["kind", "is_default"]
    search_fields = ["workspace__slug", "workspace__name", "user__email", "model", "base_url"]
    list_select_related = ["workspace", "user"]
    autocomplete_fields = ["workspace", "user"]
    readonly_fields = ["masked_key", "created_at", "updated_at"]
    fields = ["workspace", "user", "kind", "model", "temperature", "max_tokens", "masked_key", "new_api_key",
              "clear_api_key", "base_url", "api_version", "is_default", "created_at", "updated_at"]

    @admin.display(description="API key")
    def masked_key(self, obj):
        return obj.masked_api_key or "—"


@admin.register(LLMQuotaPolicy)
class LLMQuotaPolicyAdmin(admin.ModelAdmin):
    list_display = ["workspace", "setter_daily", "setter_monthly", "admin_daily", "admin_monthly",
                    "workspace_daily", "workspace_monthly", "updated_at"]
    search_fields = ["workspace__slug", "workspace__name"]
    list_select_related = ["workspace"]
    autocomplete_fields = ["workspace"]


@admin.register(LLMUsage)
class LLMUsageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "workspace", "user", "purpose", "provider_kind", "model", "input_tokens",
                    "output_tokens", "cost_usd", "latency_ms", "attempts", "outcome"]
    list_filter = ["outcome", "provider_kind", "purpose"]
    search_fields = ["workspace__slug", "user__email", "model", "purpose"]
    list_select_related = ["workspace", "user"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False  # the ledger is written by the gateway only

    def has_change_permission(self, request, obj=None):
        return False

"""LLM providers (bring your own key), per-workspace quota policies and the usage ledger."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations.crypto import EncryptedTextField, mask


class ProviderKind(models.TextChoices):
    ANTHROPIC = "anthropic", "Anthropic"
    OPENAI = "openai", "OpenAI"
    AZURE_OPENAI = "azure_openai", "Azure OpenAI"
    OLLAMA = "ollama", "Ollama"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible (custom base URL)"


# What each kind needs beyond a model name. Ollama and most self-hosted servers take no key.
KIND_REQUIREMENTS: dict[str, set[str]] = {
    ProviderKind.ANTHROPIC: {"api_key"},
    ProviderKind.OPENAI: {"api_key"},
    ProviderKind.AZURE_OPENAI: {"api_key", "base_url", "api_version"},
    ProviderKind.OLLAMA: {"base_url"},
    ProviderKind.OPENAI_COMPATIBLE: {"base_url"},
}
_FIELD_HELP = {
    "api_key": "an API key",
    "base_url": "a base URL",
    "api_version": "an API version (for example 2024-10-21)",
}


class LLMProvider(models.Model):
    """A configured model endpoint for a workspace, or one user's override inside it.

    The API key is Fernet-encrypted at rest; only `masked_api_key` may be shown anywhere.
    """

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="llm_providers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="llm_providers",
        help_text="Set for a per-user override; empty for a workspace-wide provider.",
    )
    kind = models.CharField(max_length=32, choices=ProviderKind.choices)
    model = models.CharField(max_length=200, help_text="Model name; for Azure, the deployment name.")
    temperature = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)],
        help_text="Empty: the provider's default (some reasoning models accept no other value).",
    )
    max_tokens = models.PositiveIntegerField(default=1024, validators=[MinValueValidator(1), MaxValueValidator(200_000)])
    api_key = EncryptedTextField(blank=True)
    base_url = models.URLField(max_length=500, blank=True, help_text="Azure endpoint, Ollama or compatible server URL.")
    api_version = models.CharField(max_length=40, blank=True, help_text="Azure OpenAI API version.")
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace__name", "-is_default", "kind", "model"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(is_default=True), name="llm_provider_one_default_per_workspace"
            ),
            models.UniqueConstraint(
                fields=["workspace", "user"], condition=Q(user__isnull=False), name="llm_provider_one_per_user"
            ),
            models.CheckConstraint(
                condition=Q(is_default=False) | Q(user__isnull=True), name="llm_provider_default_is_workspace_wide"
            ),
        ]

    def __str__(self):
        scope = f" for {self.user}" if self.user_id else ""
        return f"{self.get_kind_display()} {self.model}{scope}"

    def __repr__(self):
        return f"<LLMProvider {self.pk} {self.kind} {self.model!r} key={self.masked_api_key or '-'}>"

    @property
    def masked_api_key(self) -> str:
        return mask(self.api_key)

    def clean(self):
        super().clean()
        errors = {}
        for field in sorted(KIND_REQUIREMENTS.get(self.kind, set())):
            if not (getattr(self, field) or "").strip():
                errors[field] = f"{self.get_kind_display()} needs {_FIELD_HELP[field]}."
        if self.temperature is not None and self.kind == ProviderKind.ANTHROPIC:
            errors["temperature"] = "Anthropic's current API takes no temperature; leave it empty."
        if self.api_version and self.kind != ProviderKind.AZURE_OPENAI:
            errors["api_version"] = "Only Azure OpenAI takes an API version."
        if self.is_default and self.user_id:
            errors["is_default"] = "A per-user override cannot be the workspace default."
        if errors:
            raise ValidationError(errors)


# Field defaults must be importable functions for migrations; each reads LLM_QUOTA_DEFAULTS.
def default_setter_daily():
    return settings.LLM_QUOTA_DEFAULTS["setter_daily"]


def default_setter_monthly():
    return settings.LLM_QUOTA_DEFAULTS["setter_monthly"]


def default_admin_daily():
    return settings.LLM_QUOTA_DEFAULTS["admin_daily"]


def default_admin_monthly():
    return settings.LLM_QUOTA_DEFAULTS["admin_monthly"]


def default_workspace_daily():
    return settings.LLM_QUOTA_DEFAULTS["workspace_daily"]


def default_workspace_monthly():
    return settings.LLM_QUOTA_DEFAULTS["workspace_monthly"]


class LLMQuotaPolicy(models.Model):
    """Token limits (input + output) for one workspace; empty means unlimited.

    Without a row, `LLM_QUOTA_*` settings apply. User calls count against the user's role limit and
    the workspace total; system work (no user) counts against the workspace total only. Days and
    months follow the workspace's time zone.
    """

    workspace = models.OneToOneField("accounts.Workspace", on_delete=models.CASCADE, related_name="llm_quota_policy")
    setter_daily = models.PositiveBigIntegerField(null=True, blank=True, default=default_setter_daily)
    setter_monthly = models.PositiveBigIntegerField(null=True, blank=True, default=default_setter_monthly)
    admin_daily = models.PositiveBigIntegerField(null=True, blank=True, default=default_admin_daily)
    admin_monthly = models.PositiveBigIntegerField(null=True, blank=True, default=default_admin_monthly)
    workspace_daily = models.PositiveBigIntegerField(null=True, blank=True, default=default_workspace_daily)
    workspace_monthly = models.PositiveBigIntegerField(null=True, blank=True, default=default_workspace_monthly)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "LLM quota policy"
        verbose_name_plural = "LLM quota policies"

    def __str__(self):
        return f"LLM quotas for {self.workspace}"

    def role_limits(self, role: str) -> tuple[int | None, int | None]:
        return getattr(self, f"{role}_daily"), getattr(self, f"{role}_monthly")


class Outcome(models.TextChoices):
    PENDING = "pending", "In flight"
    OK = "ok", "OK"
    QUOTA_EXCEEDED = "quota_exceeded", "Quota exceeded"
    INVALID_OUTPUT = "invalid_output", "Invalid structured output"
    AUTH = "auth", "Authentication"
    BILLING = "billing", "Billing / provider quota"
    RATE_LIMIT = "rate_limit", "Rate limited"
    TIMEOUT = "timeout", "Timeout"
    CONNECTION = "connection", "Connection"
    SERVER = "server", "Provider server error"
    BAD_REQUEST = "bad_request", "Bad request"
    NOT_FOUND = "not_found", "Model or endpoint not found"
    BAD_RESPONSE = "bad_response", "Malformed provider response"
    CONFIG = "config", "Configuration"


class LLMUsage(models.Model):
    """One gateway call: written as `pending` (a reservation) before the call, completed after it.

    Quota sums count pending rows at their reservation size, so concurrent calls see each other.
    A batch reservation (`integrations.llm.batch`) is a pending row with `expires_at`: it holds what
    its calls have not yet settled, is removed when the batch is released, and stops counting at
    `expires_at` (a run that died cannot hold quota beyond it).
    """

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="llm_usage")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="llm_usage",
        help_text="Empty for system work such as auto-replies.",
    )
    provider = models.ForeignKey(LLMProvider, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage")
    purpose = models.CharField(max_length=64)
    provider_kind = models.CharField(max_length=32, choices=ProviderKind.choices)
    model = models.CharField(max_length=200)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(max_length=32, choices=Outcome.choices, default=Outcome.PENDING)
    error_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Set on a batch reservation only: it stops counting at this time.")

    class Meta:
        verbose_name = "LLM usage"
        verbose_name_plural = "LLM usage"
        ordering = ["-created_at"]
        indexes = [
            # Covering indexes: quota sums are index-only scans over one period.
            models.Index(
                fields=["workspace", "created_at"], include=["user", "input_tokens", "output_tokens"],
                name="llm_usage_ws_created",
            ),
            models.Index(
                fields=["user", "created_at"], include=["input_tokens", "output_tokens"], name="llm_usage_user_created"
            ),
        ]

    def __str__(self):
        return f"{self.purpose} {self.model} {self.outcome} ({self.input_tokens}+{self.output_tokens} tokens)"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

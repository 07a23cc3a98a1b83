from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Membership
from accounts.services import audit_event_record
from integrations.llm.errors import LLMError, LLMGatewayError, scrub
from integrations.llm.models import LLMProvider, LLMQuotaPolicy

_UNSET = object()


@transaction.atomic
def llm_provider_save(
    *,
    workspace,
    kind: str,
    model: str,
    user=None,
    api_key: str | None = None,
    base_url: str | None = None,
    api_version: str | None = None,
    temperature=_UNSET,
    max_tokens: int | None = None,
    make_default: bool = False,
    actor=None,
) -> tuple[LLMProvider, bool]:
    """Create or update a provider; returns (provider, created). Raises ValidationError.

    Identity: a user's override is one row per (workspace, user); a workspace-wide provider is one
    row per (workspace, kind). Arguments left as None keep the stored value. The first
    workspace-wide provider becomes the default; `make_default` moves the default to this one.
    """
    if user is not None and not Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ValidationError({"user": f"{user} is not a member of {workspace.slug!r}."})
    rows = LLMProvider.objects.select_for_update().filter(workspace=workspace)
    existing = rows.filter(user=user).first() if user is not None else rows.filter(user=None, kind=kind).first()
    provider = existing or LLMProvider(workspace=workspace, user=user)
    provider.kind, provider.model = kind, model
    for field, value in (("api_key", api_key), ("base_url", base_url), ("api_version", api_version),
                         ("max_tokens", max_tokens)):
        if value is not None:
            setattr(provider, field, value)
    if temperature is not _UNSET:
        provider.temperature = temperature
    wants_default = user is None and (make_default or not rows.filter(is_default=True).exclude(pk=provider.pk).exists())
    if wants_default:
        provider.is_default = True
    provider.full_clean(validate_constraints=False)
    if wants_default:
        rows.filter(is_default=True).exclude(pk=provider.pk).update(is_default=False)
    provider.save()
    audit_event_record(
        verb="llm_provider.created" if existing is None else "llm_provider.updated",
        workspace=workspace, actor=actor, target=provider,
        data={"kind": provider.kind, "model": provider.model, "user": getattr(user, "email", None),
              "api_key": provider.masked_api_key, "is_default": provider.is_default},
    )
    return provider, existing is None


QUOTA_LIMIT_FIELDS = ("setter_daily", "setter_monthly", "admin_daily", "admin_monthly", "workspace_daily",
                     "workspace_monthly")


@transaction.atomic
def llm_quota_policy_save(*, workspace, actor, limits: dict[str, int | None]) -> LLMQuotaPolicy:
    """Set the workspace's token limits (None: no limit); audited with the old and new values.

    Creates the policy row on first save (until then the LLM_QUOTA_DEFAULTS settings apply). The next
    quota check reads them: the gateway reads the row with each reservation. Raises ValidationError
    for a negative limit or an unknown field."""
    unknown = set(limits) - set(QUOTA_LIMIT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown limits: {', '.join(sorted(unknown))}")
    for field, value in limits.items():
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValidationError({field: "A limit is a whole number of tokens, 0 or more (None: no limit)."})
    policy = LLMQuotaPolicy.objects.select_for_update().filter(workspace=workspace).first()
    created = policy is None
    policy = policy or LLMQuotaPolicy(workspace=workspace)
    before = {field: getattr(policy, field) for field in QUOTA_LIMIT_FIELDS}
    for field, value in limits.items():
        setattr(policy, field, value)
    policy.save()
    after = {field: getattr(policy, field) for field in QUOTA_LIMIT_FIELDS}
    changed = {field: [before[field], after[field]] for field in QUOTA_LIMIT_FIELDS if before[field] != after[field]}
    if changed or created:
        audit_event_record(verb="llm_quota_policy.updated", workspace=workspace, actor=actor, target=policy,
                           data={"changed": changed})
    return policy


@dataclass(frozen=True)
class ProviderTestResult:
    ok: bool
    message: str
    latency_ms: int | None = None
    model: str = ""


def llm_provider_test(*, provider: LLMProvider, timeout: float = 15.0, user=None) -> ProviderTestResult:
    """A tiny call through the gateway (purpose `test_connection`) to check key, URL and model.

    No retries, so a bad key or URL answers fast. The message is safe to show: it never holds the key.
    `user` is the admin who pressed "Test", so the usage page counts the call as theirs.
    """
    from integrations.llm.gateway import llm_complete

    try:
        result = llm_complete(
            workspace=provider.workspace, provider=provider, purpose="test_connection", user=user,
            system="You are a connectivity check. Reply with the single word OK.",
            messages=[{"role": "user", "content": "ping"}], max_tokens=16, timeout=timeout, max_retries=0,
        )
    except LLMError as exc:
        return ProviderTestResult(ok=False, message=scrub(f"{exc.kind}: {exc.message}", provider.api_key))
    except LLMGatewayError as exc:
        return ProviderTestResult(ok=False, message=scrub(str(exc), provider.api_key))
    return ProviderTestResult(
        ok=True, message=f"Connected to {result.model} in {result.latency_ms} ms.",
        latency_ms=result.latency_ms, model=result.model,
    )

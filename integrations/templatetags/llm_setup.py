"""`{% no_provider_banner %}`: the one banner shown wherever Sidekick would draft (inbox, thread, sandbox)
while the workspace has no default LLM provider, so nobody waits for drafts that cannot come."""

from django import template

from integrations.llm.models import LLMProvider

register = template.Library()


@register.inclusion_tag("integrations/partials/no_provider_banner.html", takes_context=True)
def no_provider_banner(context):
    workspace = context.get("current_workspace")
    if workspace is None:
        return {"missing": False}
    request = context.get("request")
    # Asked once per request, however many times the page includes the banner.
    cached = getattr(request, "_sidekick_has_provider", None)
    if cached is None:
        # Drafts for contacts run as system work, which uses the workspace default only.
        cached = LLMProvider.objects.filter(workspace=workspace, is_default=True).exists()
        if request is not None:
            request._sidekick_has_provider = cached
    access = context.get("current_access")
    return {"missing": not cached, "workspace": workspace, "is_admin": bool(access and access.is_admin)}

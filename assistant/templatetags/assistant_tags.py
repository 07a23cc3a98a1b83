from django import template
from django.conf import settings
from django.urls import reverse

from assistant.context import page_hint

register = template.Library()


@register.simple_tag(takes_context=True)
def assistant_page_hint(context):
    """The context the open page suggests (thread, contact, insights, knowledge), from its URL: no query.
    The panel re-checks it against the workspace when it loads and when a question is sent."""
    request = context.get("request")
    return page_hint(getattr(request, "resolver_match", None))


@register.simple_tag(takes_context=True)
def suggestion_types_here(context, message):
    """The suggestion types this user may ask for on this answer (none: no "Suggest" button)."""
    from assistant.suggest import suggestion_types

    access = getattr(context.get("request"), "access", None)
    conversation = message.conversation
    return suggestion_types(context_type=conversation.context_type, snapshot=conversation.context or {},
                            role=getattr(access, "role", ""))


@register.simple_tag(takes_context=True)
def suggestion_can_apply(context, suggestion):
    from assistant.services import suggestion_allowed

    access = getattr(context.get("request"), "access", None)
    return suggestion_allowed(suggestion=suggestion, role=getattr(access, "role", ""))


@register.simple_tag
def crm_plan_steps(message):
    """An AutoCRM plan's steps (record, field, before → after) from its change set."""
    from assistant.crm import crm_plan_steps as steps

    return steps(message=message)


@register.simple_tag
def assistant_stream_url(workspace_slug, message_id):
    """The live answer's address: on the stream server when one is configured (settings.ASSISTANT_STREAM_URL)."""
    return settings.ASSISTANT_STREAM_URL + reverse("assistant:stream", args=[workspace_slug, message_id])

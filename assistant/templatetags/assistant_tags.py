from django import template

from assistant.context import page_hint

register = template.Library()


@register.simple_tag(takes_context=True)
def assistant_page_hint(context):
    """The context the open page suggests (thread, contact, insights, knowledge), from its URL: no query.
    The panel re-checks it against the workspace when it loads and when a question is sent."""
    request = context.get("request")
    return page_hint(getattr(request, "resolver_match", None))

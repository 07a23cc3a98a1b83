"""Small display helpers for threads and messages."""

from django import template

register = template.Library()

IMAGE_TYPES = {"image", "sticker", "animated_image"}


@register.filter
def http_url(value) -> str:
    """The URL when it is http(s), else "": attachment URLs come from outside and end up in src/href."""
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    return ""


@register.filter
def is_image(attachment) -> bool:
    return isinstance(attachment, dict) and attachment.get("type") in IMAGE_TYPES and bool(http_url(attachment.get("url")))


@register.filter
def attachment_label(attachment) -> str:
    if not isinstance(attachment, dict):
        return "Attachment"
    kind = str(attachment.get("type") or "attachment").replace("_", " ")
    title = attachment.get("title")
    return f"{kind.capitalize()}: {title}" if title else kind.capitalize()


REASONS = {
    "window_closed": "The messaging window closed before Sidekick could send.",
    "channel_inactive": "The channel needs reconnecting; a message could not be sent.",
    "send_failed": "A message could not be sent.",
    "send_unknown": "A send may or may not have reached the contact; check before resending.",
    "control_requested": "Another app asked for control of this conversation.",
    "crisis": "Someone may be in danger (self-harm, a medical emergency, abuse)",
    "threat": "A threat of violence",
    "legal": "A legal matter (lawyer, claim, chargeback, data request)",
    "prompt_injection": "An attempt to change or reveal Sidekick's instructions",
    "model_screen": "Flagged by the screening model",
    "sensitive": "Touches danger, violence or the law",
    "unverified_link": "The draft carried a link the knowledge base does not give",
    "unverified_phone": "The draft carried a phone number the knowledge base does not give",
    "ungrounded_offer": "The draft stated a price or offer no source gives",
    "markdown_link": "The draft hid a link",
    "hidden_characters": "The draft held invisible characters",
    "mixed_script": "The draft mixed alphabets in a word",
    "assistant_suggestion": "Suggested by the assistant at a team member's request; review it before sending",
}


@register.filter
def reason_label(value) -> str:
    """A machine reason ("window_closed") as a sentence a setter understands."""
    if not value:
        return ""
    return REASONS.get(value, str(value).replace("_", " ").capitalize())

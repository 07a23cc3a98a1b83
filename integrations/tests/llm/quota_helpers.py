"""Helpers shared by the quota tests (in a test transaction and in autocommit)."""

from datetime import UTC, datetime

from integrations.llm.gateway import llm_complete
from integrations.llm.models import LLMUsage


def llm_call(workspace, user=None, **kwargs):
    """One gateway call with a minimal prompt, as a draft would make it."""
    return llm_complete(workspace=workspace, user=user, purpose=kwargs.pop("purpose", "draft_reply"), system="s",
                        messages=[{"role": "user", "content": "hi"}], **kwargs)


def usage_row(workspace, tokens, *, user=None, at=None, outcome="ok", purpose="seed"):
    """A usage record of `tokens` input tokens that the quota counts (unless purpose is embedding)."""
    return LLMUsage.objects.create(workspace=workspace, user=user, purpose=purpose, provider_kind="openai",
                                   model="gpt-4o", input_tokens=tokens, output_tokens=0, outcome=outcome,
                                   created_at=at or datetime.now(UTC))

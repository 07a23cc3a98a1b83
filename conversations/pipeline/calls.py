"""One structured model call for the reply pipeline, follow-ups and the assistant: the gateway (quotas,
usage, retries) plus one repair attempt on unusable output, with failures turned into `Escalate`.

`structured_call(state, ...)` takes any object with `thread` (for the workspace), `provider`,
`notes` and `note_usage(result)`: the pipeline's `Run`, or a caller's own.
"""

from __future__ import annotations

from conversations.models import Decision
from integrations.llm.errors import LLMError, LLMOutputError, NoProviderConfigured, QuotaExceeded
from integrations.llm.gateway import llm_complete
from integrations.llm.models import LLMProvider
from integrations.llm.selectors import llm_provider_for


class Escalate(Exception):
    """A step cannot go on: stop here with this decision and reason."""

    def __init__(self, reason: str, text: str = "", *, decision: str = Decision.ESCALATED, urgent: bool = False):
        super().__init__(reason)
        self.reason, self.text, self.decision, self.urgent = reason, text, decision, urgent


def structured_call(run, *, purpose: str, system: str, messages: list[dict], schema: dict, schema_name: str,
                    provider: LLMProvider | None = None, max_tokens: int | None = None):
    """One structured call with one repair attempt on unusable output. Raises Escalate on failure.

    `provider` overrides the run's (the workspace default) for this call only; `max_tokens` caps the
    answer (the provider's setting otherwise)."""
    workspace = run.thread.workspace
    if provider is None and run.provider is None:
        # System work (no user): the workspace default, the provider llm_complete would resolve itself.
        run.provider = llm_provider_for(workspace=workspace)
        if run.provider is None:
            raise NoProviderConfigured(workspace)
    provider = provider or run.provider
    try:
        try:
            result = llm_complete(workspace=workspace, purpose=purpose, system=system, messages=messages,
                                  schema=schema, schema_name=schema_name, provider=provider, max_tokens=max_tokens,
                                  user=getattr(run, "user", None))
        except LLMOutputError as exc:
            run.note_usage(exc.result)
            run.notes.append(f"{purpose}: unusable output ({exc.message[:120]}); asked for a repair")
            repair = [*messages, {"role": "assistant", "content": (exc.raw or "(empty)")[:4000]},
                      {"role": "user", "content": f"That answer was unusable: {exc.message[:300]}. Answer again "
                                                  f"with every required field, using the {schema_name} format."}]
            result = llm_complete(workspace=workspace, purpose=purpose, system=system, messages=repair,
                                  schema=schema, schema_name=schema_name, provider=provider, max_tokens=max_tokens,
                                  user=getattr(run, "user", None))
    except NoProviderConfigured:
        raise
    except QuotaExceeded as exc:
        raise Escalate("quota_exceeded", str(exc)) from exc
    except LLMOutputError as exc:
        run.note_usage(exc.result)
        raise Escalate("invalid_output", f"{purpose}: {exc.message[:300]}") from exc
    except LLMError as exc:
        raise Escalate("llm_error", f"{purpose}: {exc.kind}: {exc.message[:300]}") from exc
    run.note_usage(result)
    return result

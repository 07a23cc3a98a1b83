"""Writing one answer on the `llm` worker: the model's text streamed into the AssistantMessage row.

Each piece is published to a Redis stream the browser reads as server-sent events (assistant.stream: the
first piece at once, the ones right after it coalesced) and appended in the worker's memory; the row, the
truth, is written at most every FLUSH_SECONDS (one UPDATE that also returns the stop flag, so checking for
"stop" costs nothing extra) and finally once, before the end is published. Without the event stream the browser polls the row
(assistant.views.message_poll). A stop, a failure or a broken stream keeps what arrived and says so.
"""

from __future__ import annotations

import logging
import time

from django.db import connection
from django.utils import timezone

from accounts.models import Membership, Role
from assistant.context import grounding
from assistant.models import AssistantMessage, MessageStatus
from assistant.models import Role as MessageRole
from assistant.stream import AnswerPublisher
from integrations.llm.adapters import STOPPED, StreamBroken
from integrations.llm.errors import LLMError, NoProviderConfigured, QuotaExceeded
from integrations.llm.gateway import llm_stream

log = logging.getLogger(__name__)

PURPOSE = "assistant"
# The live text goes by Redis; the row's text is for the poll (the fallback without the event stream) and a
# late page load, and its write is where a stop is seen. 0.5 s: a stop lands within half a second (about 20
# pieces of a fast model, kept as the answer), and 50 answers cost ~100 UPDATEs/s instead of ~330 at 0.15 s.
FLUSH_SECONDS = 0.5
HISTORY_TURNS = 20
MAX_ANSWER_TOKENS = 1500


def _flush(message_id: int, text: str) -> bool:
    """Write the text so far; True when the reader asked to stop (one round trip)."""
    table = AssistantMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(table)} SET content = %s, updated_at = %s "  # noqa: S608
            "WHERE id = %s RETURNING stop_requested", [text, timezone.now(), message_id])
        row = cursor.fetchone()
    return row is None or bool(row[0])


def _finish(message_id: int, *, text: str, status: str, error: str = "", **fields) -> None:
    """The final write; a stop requested meanwhile wins over `complete` (the reader saw it stop)."""
    updates = {"content": text, "error": error[:500], "updated_at": timezone.now(), **fields}
    rows = AssistantMessage.objects.filter(pk=message_id)
    if status == MessageStatus.COMPLETE:
        rows.filter(stop_requested=True).update(status=MessageStatus.STOPPED, **updates)
        rows.filter(stop_requested=False).update(status=status, **updates)
    else:
        rows.update(status=status, **updates)


def _history(answer: AssistantMessage) -> list[dict]:
    """The conversation so far for the model: complete turns, alternating, ending with the question."""
    earlier = (AssistantMessage.objects.filter(conversation_id=answer.conversation_id, id__lt=answer.pk)
               .exclude(content="").order_by("-created_at", "-id")[:HISTORY_TURNS])
    turns: list[dict] = []
    for message in reversed(earlier):
        role = "user" if message.role == MessageRole.USER else "assistant"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + message.content
        else:
            turns.append({"role": role, "content": message.content})
    while turns and turns[0]["role"] != "user":
        turns.pop(0)
    return turns


def answer_write(*, message_id: int) -> str:
    """Stream the answer for this (streaming) message; returns its final status. Idempotent: a message
    already finished or stopped is left alone (a redelivered job, a stop before the worker started).
    Readers of the live stream are told it ended once the row holds the final state."""
    publisher = AnswerPublisher(message_id)
    status = _answer_write(message_id, publisher)
    if status != "missing":
        publisher.end(status)
    return status


def _answer_write(message_id: int, publisher: AnswerPublisher) -> str:
    answer = (AssistantMessage.objects.select_related("conversation__workspace", "conversation__user")
              .filter(pk=message_id, role=MessageRole.ASSISTANT).first())
    if answer is None or answer.status != MessageStatus.STREAMING or answer.stop_requested:
        return answer.status if answer else "missing"
    conversation = answer.conversation
    workspace, user = conversation.workspace, conversation.user
    membership = Membership.objects.filter(workspace=workspace, user=user).only("role").first()
    if membership is None and not user.is_superadmin:
        _finish(message_id, text="", status=MessageStatus.FAILED, error="You are no longer a member of this workspace.")
        return MessageStatus.FAILED
    role = Role.ADMIN if user.is_superadmin or membership.role == Role.ADMIN else Role.SETTER
    turns = _history(answer)
    if not turns or turns[-1]["role"] != "user":
        _finish(message_id, text="", status=MessageStatus.FAILED, error="There is no question to answer.")
        return MessageStatus.FAILED
    ground = grounding(workspace=workspace, role=role, context_type=conversation.context_type,
                       snapshot=conversation.context or {}, question=turns[-1]["content"])

    parts: list[str] = []
    last_flush = 0.0  # the first piece is written at once: "Thinking…" turns into text as soon as it can
    stop = False

    def on_delta(text: str) -> bool:
        nonlocal last_flush, stop
        parts.append(text)
        publisher.piece(text)
        now = time.monotonic()
        if now - last_flush >= FLUSH_SECONDS:
            last_flush = now
            stop = _flush(message_id, "".join(parts))
        return not stop

    try:
        result = llm_stream(workspace=workspace, user=user, purpose=PURPOSE, system=ground.system, messages=turns,
                            on_delta=on_delta, max_tokens=MAX_ANSWER_TOKENS)
    except QuotaExceeded as exc:
        resets = timezone.localtime(exc.resets_at)
        _finish(message_id, text="", status=MessageStatus.FAILED,
                error=f"Your token limit is reached; it resets on {resets:%A %d %B at %H:%M}.")
        return MessageStatus.FAILED
    except NoProviderConfigured:
        _finish(message_id, text="", status=MessageStatus.FAILED, error="No language model is set up.")
        return MessageStatus.FAILED
    except StreamBroken as exc:
        # The tokens of what arrived are counted (the provider bills them): reported, or estimated and flagged.
        _finish(message_id, text=exc.text, status=MessageStatus.FAILED,
                error="The model's answer broke off; what arrived is shown.",
                input_tokens=exc.input_tokens or 0, output_tokens=exc.output_tokens or 0,
                metadata={"citations": ground.citations, "tokens_estimated": exc.tokens_estimated})
        log.warning("assistant answer %s broke off: %s", message_id, exc.message)
        return MessageStatus.FAILED
    except LLMError as exc:
        _finish(message_id, text="".join(parts), status=MessageStatus.FAILED,
                error=f"The model could not answer ({exc.kind}): {exc.message}"[:500])
        return MessageStatus.FAILED
    status = MessageStatus.STOPPED if result.stop_reason == STOPPED else MessageStatus.COMPLETE
    _finish(message_id, text=result.text, status=status, input_tokens=result.input_tokens,
            output_tokens=result.output_tokens, model=result.model[:200], latency_ms=result.latency_ms,
            usage_id=result.usage_id, metadata={"citations": ground.citations, "stop_reason": result.stop_reason})
    return status

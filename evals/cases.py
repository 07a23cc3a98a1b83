"""Eval cases from a done report's matured cohort (issue 15, "Eval cases").

Each decided outbound message (booked / not booked; pending ones are not cases) becomes a case: the
last CONTEXT_MESSAGES messages of its thread before it, the message itself, and its outcome, all as
`insights.report.message_labels` labels them for the report's window and `as_of`. Text is redacted
before it is stored, the way insights shows messages to everyone (`contacts.redaction.redact`, then
the contact's first name): nothing unredacted is kept or sent to the judge.

The held-out split is a hash of the person (the report's person key: the contact's person, else the
contact), salted with a fixed, public string and the workspace id: the same person is in the same
split in every run, so a proposal is judged on people it was not built from.
"""

from __future__ import annotations

import hashlib
import re

from django.db import connection

from contacts.redaction import redact
from evals.models import EvalCase, EvalRun, Split
from insights.models import Report
from insights.report import ReportParameters, message_labels

CONTEXT_MESSAGES = 8
TEXT_CHARS = 1000  # one message's text at most, after redaction
SPLIT_SALT = "sidekick-evals-split-v1"  # not a secret: it only has to stay the same across runs
HELD_OUT_MODULUS = 5  # one person in five is held out


def person_key(label_pk: int) -> str:
    """The report's person key (person id, or minus the contact id) as text: p<person> or c<contact>."""
    return f"p{label_pk}" if label_pk > 0 else f"c{-label_pk}"


def split_for(*, workspace_id: int, key: str) -> str:
    digest = hashlib.sha256(f"{SPLIT_SALT}:{workspace_id}:{key}".encode()).digest()
    return Split.HELD_OUT if int.from_bytes(digest[:8], "big") % HELD_OUT_MODULUS == 0 else Split.TRAIN


def redacted(text: str, display_name: str) -> str:
    text = redact(text or "")  # first: an email holding the name is still an email
    first = (display_name or "").split(" ")[0]
    if len(first) >= 2:
        text = re.sub(re.escape(first), "[name]", text, flags=re.IGNORECASE)
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS - 1] + "…"


# The messages and, for each, the last n messages of its thread before it (one statement).
_CONTEXT = """
SELECT m.id, m.text, c.display_name, ctx.direction, ctx.text
FROM conversations_message m
JOIN conversations_thread t ON t.id = m.thread_id AND t.workspace_id = %(ws)s
JOIN contacts_contact c ON c.id = t.contact_id AND c.workspace_id = %(ws)s
LEFT JOIN LATERAL (
    SELECT p.direction, p.text, p.sent_at, p.id FROM conversations_message p
    WHERE p.thread_id = m.thread_id AND p.workspace_id = %(ws)s AND NOT p.is_deleted
      AND (p.sent_at, p.id) < (m.sent_at, m.id)
    ORDER BY p.sent_at DESC, p.id DESC LIMIT %(n)s
) ctx ON TRUE
WHERE m.workspace_id = %(ws)s AND m.id = ANY(%(ids)s)
ORDER BY m.id, ctx.sent_at, ctx.id
"""


def cases_collect(*, workspace, report: Report, context_messages: int = CONTEXT_MESSAGES) -> list[EvalCase]:
    """The report's decided messages as unsaved cases (no run yet), in message order."""
    labels = message_labels(workspace=workspace, start=report.window_start, end=report.window_end,
                            as_of=report.as_of, parameters=ReportParameters(**report.parameters))
    decided = {pk: row for pk, row in labels.items() if row["outcome"] in ("booked", "not_booked")}
    found: dict[int, dict] = {}
    with connection.cursor() as cursor:
        cursor.execute(_CONTEXT, {"ws": workspace.pk, "ids": list(decided), "n": context_messages})
        for message_id, text, name, direction, ctx_text in cursor.fetchall():
            case = found.setdefault(message_id, {"sent": redacted(text, name), "context": []})
            if direction is not None:
                case["context"].append({"role": "customer" if direction == "in" else "business",
                                        "text": redacted(ctx_text, name)})
    cases = []
    for message_id, row in sorted(decided.items()):
        if message_id not in found:
            continue
        key = person_key(row["pk"])
        cases.append(EvalCase(message_id=message_id, person_key=key,
                              split=split_for(workspace_id=workspace.pk, key=key), outcome=row["outcome"],
                              sender=row["sender"] or "", context=found[message_id]["context"],
                              sent_text=found[message_id]["sent"]))
    return cases


def cases_build(*, run: EvalRun, report: Report, context_messages: int = CONTEXT_MESSAGES) -> list[EvalCase]:
    """Create the run's cases from the report's decided messages; returns them (in message order)."""
    cases = cases_collect(workspace=run.workspace, report=report, context_messages=context_messages)
    for case in cases:
        case.run = run
    return EvalCase.objects.bulk_create(cases)

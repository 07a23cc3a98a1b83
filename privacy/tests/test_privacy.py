"""Exports hold every listed table; an erasure leaves no trace of the contact in any table of the project;
the user's quota survives an AI-data erasure; roles and workspaces are respected."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection, models
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import AdminMembershipFactory, MembershipFactory
from assistant.models import AssistantConversation, AssistantMessage
from changes import services as change_services
from changes.models import ChangeSet, Operation
from changes.services import OperationSpec
from conftest import queued_tasks
from contacts.models import Contact, LeadMemory, Person
from conversations.models import Message
from evals.models import EvalCase
from insights.models import Report
from integrations.llm.quotas import usage_totals
from integrations.models import LLMUsage, WebhookEvent
from privacy import services
from privacy.export import CONTACT_TABLES, USER_TABLES
from privacy.models import Kind, PrivacyRequest, Status
from privacy.tests.scene import OTHER_PSID, PSID, build

pytestmark = pytest.mark.django_db

PROJECT_APPS = {"accounts", "integrations", "contacts", "knowledge", "conversations", "changes", "insights",
                "evals", "assistant", "privacy"}


@pytest.fixture
def scene(workspace, admin, setter):
    return build(workspace=workspace, admin=admin, setter=setter)


def _zip(request: PrivacyRequest) -> dict[str, object]:
    with request.file.open("rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    return {name: archive.read(name).decode() if name.endswith(".md") else json.loads(archive.read(name))
            for name in archive.namelist()}


def _run(request: PrivacyRequest) -> PrivacyRequest:
    assert services.privacy_request_run(request_id=request.pk) in {"done", "failed"}
    request.refresh_from_db()
    return request


def _everything_as_text() -> str:
    """Every text, JSON and binary column of every row of every model of the project's apps."""
    chunks = []
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        columns = [f.attname for f in model._meta.concrete_fields
                   if isinstance(f, models.CharField | models.TextField | models.JSONField | models.BinaryField)]
        for row in model.objects.values_list(*columns):
            for value in row:
                if isinstance(value, bytes | memoryview):
                    value = bytes(value).decode("utf-8", "replace")
                chunks.append(value if isinstance(value, str) else json.dumps(value, default=str))
    # The inbox search documents are tsvectors (lexemes): check them in SQL.
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(string_agg(search_vector::text, ' '), '') FROM conversations_thread")
        chunks.append(cursor.fetchone()[0])
    return "\n".join(chunks).lower()


def test_contact_export_holds_a_row_of_every_listed_table_and_a_readme(scene, admin):
    request = services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact, kind=Kind.EXPORT,
                                               actor=admin)
    request = _run(request)
    assert request.status == Status.DONE and request.downloadable, request.error
    files = _zip(request)
    for table in CONTACT_TABLES:
        rows = files[table.filename]
        assert rows, f"{table.filename} is empty"
        assert table.filename in files["README.md"]
    assert files["contact.json"][0]["external_id"] == PSID
    assert {m["text"] for m in files["messages.json"]} == set(scene.texts[:2])
    assert "maria.q@example.com" in files["lead_memory.json"][0]["text"]
    assert "UNIQUE-CRM likes yoga" in json.dumps(files["change_operations.json"])
    # Only Maria's item of the shared delivery; the other contact's words are not hers to receive.
    webhook = json.dumps(files["webhook_events.json"])
    assert "UNIQUE-WEBHOOK" in webhook and OTHER_PSID not in webhook
    assert "`text` (TextField)" in files["README.md"]
    assert request.rows["messages"] == 2


def test_user_export_holds_their_ai_data_only(scene, setter, admin):
    mine = AssistantConversation.objects.create(workspace=scene.workspace, user=setter, title="Mine")
    AssistantMessage.objects.create(conversation=mine, role="user", content="my own question")
    AssistantConversation.objects.create(workspace=scene.workspace, user=admin, title="The admin's own")
    LLMUsage.objects.create(workspace=scene.workspace, user=setter, purpose="assistant", provider_kind="openai",
                            model="m", input_tokens=10, output_tokens=5, outcome="ok")
    request = _run(services.privacy_request_user_ai(workspace=scene.workspace, user=setter, kind=Kind.EXPORT))
    files = _zip(request)
    assert set(files) == {"README.md", *(t.filename for t in USER_TABLES)}
    titles = {c["title"] for c in files["assistant_conversations.json"]}
    assert "Mine" in titles and "The admin's own" not in titles
    assert any(m["content"] == "my own question" for m in files["assistant_messages.json"])
    assert files["llm_usage.json"][0]["input_tokens"] == 10


def test_after_erasure_no_table_holds_the_contact_or_their_words(scene, admin, django_capture_on_commit_callbacks):
    # Another contact's CRM change, in a set whose title shares Maria's first name: not hers, it stays.
    theirs = change_services.change_set_preview(
        workspace=scene.workspace, actor=admin, title="Maria's colleague: engaged",
        operations=[OperationSpec("contact.state", {"stage": "engaged"}, target_id=scene.other.pk)])
    before = _everything_as_text()
    for needle in scene.needles:  # the scan can fail: everything is there before
        assert needle.lower() in before, needle
    export = _run(services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact,
                                                   kind=Kind.EXPORT, actor=admin))
    export_file = export.file.name
    storage = export.file.storage
    assert storage.exists(export_file)

    with django_capture_on_commit_callbacks(execute=True):  # the file goes once the erasure commits
        request = _run(services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact,
                                                        kind=Kind.ERASURE, actor=admin))
    assert request.status == Status.DONE, request.error
    after = _everything_as_text()
    found = [needle for needle in scene.needles if needle.lower() in after]
    assert not found, f"still stored after erasure: {found}"

    # What is not the contact's stays: the other contact, their words, their item of the shared delivery.
    assert Contact.objects.filter(pk=scene.other.pk).exists()
    assert Message.objects.filter(pk=scene.other_message_id).exists()
    body = json.loads(bytes(WebhookEvent.objects.get(pk=scene.webhook_event_id).body))
    assert [i["sender"]["id"] for i in body["entry"][0]["messaging"]] == [OTHER_PSID]
    assert Report.objects.get(workspace=scene.workspace).synthesis["excerpt_message_ids"] == [scene.other_message_id]
    assert EvalCase.objects.filter(pk=scene.other_eval_case_id).exists() and request.rows["eval_cases"] == 1
    assert Person.objects.filter(contacts=scene.other).exists()  # still two contacts in it
    assert ChangeSet.objects.get(pk=theirs.pk).title == "Maria's colleague: engaged"
    assert Operation.objects.filter(change_set=theirs, target_id=scene.other.pk).exists()
    # An earlier export of the contact is a copy of the data: it goes too.
    export.refresh_from_db()
    assert not export.file and not storage.exists(export_file)
    assert request.rows["messages"] == 2 and request.rows["contacts"] == 1


def test_the_erasure_audit_entry_holds_ids_and_counts_only(scene, admin):
    request = _run(services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact,
                                                    kind=Kind.ERASURE, actor=admin))
    entry = AuditEvent.objects.get(verb="privacy.contact_erased")
    assert entry.actor == admin and entry.target == f"contacts.contact:{scene.contact.pk}"
    assert entry.data["request"] == request.pk and entry.data["rows"]["messages"] == 2
    text = json.dumps(entry.data).lower() + entry.target
    assert not [n for n in scene.needles if n.lower() in text]
    # The earlier entries about the contact keep who did what and when, without the data.
    booking = AuditEvent.objects.get(verb="contact.booking_booked")
    assert booking.data == {"redacted": "the data subject was erased"}


def test_a_failing_erasure_changes_nothing_and_says_failed(scene, admin):
    """A real failure inside the transaction (a trigger refuses the contact's deletion, the last step)."""
    with connection.cursor() as cursor:
        cursor.execute("""CREATE FUNCTION refuse_delete() RETURNS trigger AS $$
                          BEGIN RAISE EXCEPTION 'refused by test'; END $$ LANGUAGE plpgsql;
                          CREATE TRIGGER refuse_contact_delete BEFORE DELETE ON contacts_contact
                          FOR EACH ROW EXECUTE FUNCTION refuse_delete();""")
    request = _run(services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact,
                                                    kind=Kind.ERASURE, actor=admin))
    assert request.status == Status.FAILED and request.completed_at is None
    # The reason names the failure's class only: a database message may quote the row's values.
    assert request.error == "ProgrammingError (see the worker log)"
    assert Message.objects.filter(pk__in=scene.message_ids).count() == 2
    assert LeadMemory.objects.filter(contact=scene.contact).exists()
    assert AssistantConversation.objects.filter(workspace=scene.workspace).exists()
    assert PSID.encode() in bytes(WebhookEvent.objects.get(pk=scene.webhook_event_id).body)
    assert not AuditEvent.objects.filter(verb="privacy.contact_erased").exists()


def test_ai_data_erasure_keeps_the_quota_used_and_the_ledger_without_text(workspace, setter):
    conversation = AssistantConversation.objects.create(workspace=workspace, user=setter, title="Pricing ideas")
    AssistantMessage.objects.create(conversation=conversation, role="user", content="secret strategy")
    for tokens in (1200, 800):
        LLMUsage.objects.create(workspace=workspace, user=setter, purpose="assistant", provider_kind="openai",
                                model="m", input_tokens=tokens, output_tokens=100, outcome="ok",
                                error_message="provider said: secret strategy was too long")
    before = usage_totals(workspace=workspace, user=setter)
    assert before["user_day"] == 2200
    request = _run(services.privacy_request_user_ai(workspace=workspace, user=setter, kind=Kind.ERASURE))
    assert request.status == Status.DONE
    assert usage_totals(workspace=workspace, user=setter) == before
    assert not AssistantConversation.objects.filter(user=setter).exists()
    assert not AssistantMessage.objects.filter(content__contains="secret").exists()
    assert not LLMUsage.objects.filter(error_message__contains="secret").exists()
    assert LLMUsage.objects.filter(user=setter).count() == 2
    entry = AuditEvent.objects.get(verb="privacy.user_ai_data_erased")
    assert "secret" not in json.dumps(entry.data) and entry.data["rows"]["assistant_conversations"] == 1


def test_requests_are_enqueued_listed_with_their_deadline_and_downloadable(client, scene, admin,
                                                                          django_capture_on_commit_callbacks):
    client.force_login(admin)
    url = reverse("privacy:contact_request", args=[scene.workspace.slug])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"contact": f"@{scene.contact.username}", "kind": "export"})
    assert response.status_code == 302
    request = PrivacyRequest.objects.get(subject_contact_ref=scene.contact.pk)
    assert ("privacy.tasks.privacy_request_process", f"[{request.pk}]") in queued_tasks("default")
    assert abs(request.due_at - request.created_at - timedelta(hours=72)) < timedelta(seconds=1)
    _run(request)
    page = client.get(reverse("privacy:requests", args=[scene.workspace.slug]))
    assert f"contact #{scene.contact.pk}".encode() in page.content and b"Download" in page.content
    download = client.get(reverse("privacy:download", args=[scene.workspace.slug, request.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).testzip()
    # An erasure needs the box ticked.
    response = client.post(url, {"contact": PSID, "kind": "erasure"})
    assert response.status_code == 400 and not PrivacyRequest.objects.filter(kind="erasure").exists()


def test_a_setter_cannot_export_or_erase_a_contact_nor_download_its_export(client, scene, admin, setter):
    export = _run(services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact,
                                                   kind=Kind.EXPORT, actor=admin))
    client.force_login(setter)
    slug = scene.workspace.slug
    for kind in ("export", "erasure"):
        response = client.post(reverse("privacy:contact_request", args=[slug]),
                               {"contact": PSID, "kind": kind, "confirm": "1"})
        assert response.status_code == 404
    assert client.get(reverse("privacy:download", args=[slug, export.pk])).status_code == 404
    page = client.get(reverse("privacy:requests", args=[slug]))
    assert page.status_code == 200 and b"A contact&#x27;s data" not in page.content
    assert f"contact #{scene.contact.pk}".encode() not in page.content
    with pytest.raises(Exception, match="Only admins"):
        services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact, kind=Kind.ERASURE,
                                         actor=setter)


def test_nobody_downloads_another_users_ai_data_not_even_an_admin(client, workspace, admin, setter):
    colleague = MembershipFactory(workspace=workspace).user
    request = _run(services.privacy_request_user_ai(workspace=workspace, user=setter, kind=Kind.EXPORT))
    url = reverse("privacy:download", args=[workspace.slug, request.pk])
    for other in (colleague, admin):
        client.force_login(other)
        assert client.get(url).status_code == 404
    client.force_login(setter)
    assert client.get(url).status_code == 200
    # The form only ever asks about the requester's own data: no user field to point elsewhere.
    client.force_login(colleague)
    client.post(reverse("privacy:my_data", args=[workspace.slug]), {"kind": "export", "user": setter.pk})
    assert PrivacyRequest.objects.filter(subject_user=colleague).count() == 1
    assert PrivacyRequest.objects.filter(subject_user=setter).count() == 1


def test_another_workspace_cannot_reach_the_contact_or_the_requests(client, scene, admin, other_workspace):
    intruder = AdminMembershipFactory(workspace=other_workspace).user
    export = _run(services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact,
                                                   kind=Kind.EXPORT, actor=admin))
    client.force_login(intruder)
    # Through their own workspace: the contact is not found, the request does not exist.
    response = client.post(reverse("privacy:contact_request", args=[other_workspace.slug]),
                           {"contact": PSID, "kind": "erasure", "confirm": "1"})
    assert response.status_code == 400 and b"No contact of this workspace matches" in response.content
    assert client.get(reverse("privacy:download", args=[other_workspace.slug, export.pk])).status_code == 404
    assert client.get(reverse("privacy:requests", args=[scene.workspace.slug])).status_code == 404
    with pytest.raises(Exception, match="Only admins|Not a contact"):
        services.privacy_request_contact(workspace=other_workspace, contact=scene.contact, kind=Kind.ERASURE,
                                         actor=intruder)
    assert Contact.objects.filter(pk=scene.contact.pk).exists()


def test_the_sweeper_requeues_lost_requests_and_deletes_expired_exports(scene, admin,
                                                                       django_capture_on_commit_callbacks):
    export = _run(services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact,
                                                   kind=Kind.EXPORT, actor=admin))
    name, storage = export.file.name, export.file.storage
    lost = services.privacy_request_user_ai(workspace=scene.workspace, user=admin, kind=Kind.EXPORT)
    PrivacyRequest.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        result = services.privacy_sweep(now=timezone.now() + timedelta(days=8))
    assert result["expired"] == 1 and not storage.exists(name)
    assert ("privacy.tasks.privacy_request_process", f"[{lost.pk}]") in queued_tasks("default")
    # A duplicate task finds nothing to claim.
    _run(lost)
    assert services.privacy_request_run(request_id=lost.pk) == "not pending"


def test_a_large_contact_is_exported_in_bounded_memory(workspace):
    """Rows stream into the ZIP from a server-side cursor: 6 MB of messages must not mean 6 MB of Python
    objects at once (tracemalloc's peak during the export)."""
    import tracemalloc

    from contacts.tests.factories import ContactFactory
    from conversations.models import Direction, SenderKind, Thread
    from privacy.export import export_write
    from privacy.subjects import ContactSubject

    contact = ContactFactory(workspace=workspace, channel__workspace=workspace)
    thread = Thread.objects.create(workspace=workspace, channel=contact.channel, contact=contact)
    text = "x" * 2000
    Message.objects.bulk_create(
        Message(workspace=workspace, thread=thread, channel=contact.channel, mid=f"big.{n}", direction=Direction.IN,
                sender_kind=SenderKind.CONTACT, text=f"{n} {text}") for n in range(3000))
    subject = ContactSubject.load(workspace=workspace, contact=contact)
    tracemalloc.start()
    archive, counts = export_write(tables=CONTACT_TABLES, subject=subject, title="big")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    size = archive.seek(0, 2)
    archive.close()
    assert counts["messages"] == 3000
    # Measured 1.6 MB with 200-row chunks (3.4 MB with 500): it follows the chunk, not the contact.
    assert peak < 3_000_000, f"peak {peak / 1e6:.1f} MB for 6 MB of messages"
    assert 0 < size < 6_000_000


def test_a_failed_request_can_be_retried_by_its_requester_only(client, scene, admin, setter,
                                                               django_capture_on_commit_callbacks):
    request = services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact, kind=Kind.ERASURE,
                                               actor=admin)
    PrivacyRequest.objects.filter(pk=request.pk).update(status=Status.FAILED, error="ProgrammingError")
    url = reverse("privacy:retry", args=[scene.workspace.slug, request.pk])
    client.force_login(setter)
    assert client.post(url).status_code == 404  # not theirs to see
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 302
    request.refresh_from_db()
    assert request.status == Status.PENDING and request.error == ""
    assert ("privacy.tasks.privacy_request_process", f"[{request.pk}]") in queued_tasks("default")
    assert _run(request).status == Status.DONE


def test_an_export_overtaken_by_an_erasure_keeps_no_file(scene, admin, monkeypatch, django_capture_on_commit_callbacks):
    """The erasure commits while the export is still writing: the finished ZIP is discarded, not served."""
    from privacy import export as export_module

    export = services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact, kind=Kind.EXPORT,
                                              actor=admin)
    erasure = services.privacy_request_contact(workspace=scene.workspace, contact=scene.contact, kind=Kind.ERASURE,
                                               actor=admin)
    written = []

    def export_then_erase(**kwargs):
        archive, counts = export_module.export_write(**kwargs)
        written.append(counts)
        assert _run(erasure).status == Status.DONE
        return archive, counts

    monkeypatch.setattr(services, "export_write", export_then_erase)
    storage = PrivacyRequest._meta.get_field("file").storage
    before = set(storage.listdir(f"privacy/{scene.workspace.pk}")[1]) if storage.exists(
        f"privacy/{scene.workspace.pk}") else set()
    with django_capture_on_commit_callbacks(execute=True):
        export = _run(export)
    assert written and written[0]["messages"] == 2
    assert export.status == Status.FAILED and "erased while the export ran" in export.error and not export.file
    assert set(storage.listdir(f"privacy/{scene.workspace.pk}")[1]) == before

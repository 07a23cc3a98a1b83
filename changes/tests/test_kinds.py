"""Each first operation kind: preview shows before → after, apply writes through the owning app's
service, undo restores, and undo is refused once the target changed after the apply."""

from datetime import time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import AuditEvent
from changes import services
from changes.models import Status
from changes.services import ChangeConflict, OperationSpec
from contacts import services as contact_services
from contacts.models import BookingEvent, ContactStateChange, LeadMemory, Stage
from conversations import saved_replies
from conversations import services as conversation_services
from conversations.models import PromptRevision, SavedReply
from conversations.pipeline.prompt import DEFAULT_PROMPT
from conversations.selectors import sidekick_settings_for
from knowledge import services as knowledge_services
from knowledge.models import FaqEntry, FaqRevision

pytestmark = pytest.mark.django_db


def preview(workspace, actor, *ops, **kwargs):
    return services.change_set_preview(workspace=workspace, actor=actor, operations=list(ops), **kwargs)


def only_op(change_set):
    (op,) = change_set.operations.all()
    return op


# --- prompt revisions -----------------------------------------------------------------------------

def test_prompt_revision_preview_apply_undo(workspace, admin):
    first = conversation_services.prompt_revision_create(workspace=workspace, text="Be brief.", actor=admin)
    cs = preview(workspace, admin, OperationSpec("prompt.revision", {"text": "  Be brief and warm. "}),
                 title="Warmer tone")
    op = only_op(cs)
    assert (op.before, op.after) == ({"revision_id": first.pk, "text": "Be brief."}, {"text": "Be brief and warm."})
    assert PromptRevision.objects.filter(workspace=workspace).count() == 1  # preview writes nothing

    services.change_set_apply(change_set=cs, actor=admin)
    new = PromptRevision.objects.get(workspace=workspace, number=2)
    assert (new.text, new.note, new.author) == ("Be brief and warm.", "Warmer tone", admin)
    op.refresh_from_db()
    assert op.result == {"revision_id": new.pk, "number": 2} and op.state == Status.APPLIED

    services.change_set_undo(change_set=cs, actor=admin)
    restored = PromptRevision.objects.get(workspace=workspace, number=3)
    assert (restored.text, restored.restored_from) == ("Be brief.", first)
    # History is never rewritten: the revision the change made is still there.
    assert PromptRevision.objects.get(pk=new.pk).text == "Be brief and warm."


def test_prompt_undo_from_the_default_prompt_restores_its_text(workspace, admin):
    cs = preview(workspace, admin, OperationSpec("prompt.revision", {"text": "Custom."}))
    assert only_op(cs).before == {"revision_id": None, "text": DEFAULT_PROMPT}
    services.change_set_apply(change_set=cs, actor=admin)
    services.change_set_undo(change_set=cs, actor=admin)
    assert PromptRevision.objects.filter(workspace=workspace).first().text == DEFAULT_PROMPT.strip()


def test_prompt_undo_refused_once_a_later_revision_exists(workspace, admin):
    cs = preview(workspace, admin, OperationSpec("prompt.revision", {"text": "Mine."}))
    services.change_set_apply(change_set=cs, actor=admin)
    conversation_services.prompt_revision_create(workspace=workspace, text="Someone else's.", actor=admin)
    with pytest.raises(ChangeConflict, match="System prompt"):
        services.change_set_undo(change_set=cs, actor=admin)
    assert PromptRevision.objects.filter(workspace=workspace).first().text == "Someone else's."
    cs.refresh_from_db()
    assert cs.status == Status.APPLIED


# --- Sidekick settings ----------------------------------------------------------------------------

def test_settings_preview_apply_undo(workspace, admin):
    cs = preview(workspace, admin, OperationSpec("sidekick.settings", {
        "threshold": 0.9, "auto_send": False, "blacklist": [" refunds ", ""], "opens_at": "08:30"}))
    op = only_op(cs)
    assert op.before == {"threshold": 0.8, "auto_send": True, "blacklist": [], "opens_at": "09:00:00"}
    assert op.after == {"threshold": 0.9, "auto_send": False, "blacklist": ["refunds"], "opens_at": "08:30:00"}
    assert sidekick_settings_for(workspace=workspace).threshold == 0.8

    services.change_set_apply(change_set=cs, actor=admin)
    cfg = sidekick_settings_for(workspace=workspace)
    assert (cfg.threshold, cfg.auto_send, cfg.blacklist, cfg.opens_at) == (0.9, False, ["refunds"], time(8, 30))
    assert AuditEvent.objects.filter(workspace=workspace, verb="sidekick.settings_updated").exists()

    services.change_set_undo(change_set=cs, actor=admin)
    cfg = sidekick_settings_for(workspace=workspace)
    assert (cfg.threshold, cfg.auto_send, cfg.blacklist, cfg.opens_at) == (0.8, True, [], time(9, 0))


def test_settings_undo_refused_when_a_field_changed_since(workspace, admin):
    cs = preview(workspace, admin, OperationSpec("sidekick.settings", {"threshold": 0.9, "language": "fr"}))
    services.change_set_apply(change_set=cs, actor=admin)
    conversation_services.sidekick_settings_update(workspace=workspace, actor=admin, language="de")
    with pytest.raises(ChangeConflict, match="language"):
        services.change_set_undo(change_set=cs, actor=admin)
    cfg = sidekick_settings_for(workspace=workspace)
    assert (cfg.threshold, cfg.language) == (0.9, "de")


@pytest.mark.parametrize("after", [{"threshold": 1.5}, {"threshold": "high"}, {"auto_send": "yes"},
                                   {"business_days": [7]}, {"opens_at": "25:00"}, {"unknown_field": 1}])
def test_settings_preview_refuses_invalid_values(workspace, admin, after):
    with pytest.raises(ValidationError, match="Step 1"):
        preview(workspace, admin, OperationSpec("sidekick.settings", after))


# --- knowledge: FAQ revisions ---------------------------------------------------------------------

def test_faq_edit_preview_apply_undo(workspace, admin):
    faq = knowledge_services.faq_create(workspace=workspace, question="Showers?", answer="Yes, four.", actor=admin)
    cs = preview(workspace, admin, OperationSpec("knowledge.faq", {"question": "Showers?", "answer": "Yes, six."},
                                                 target_id=faq.pk))
    op = only_op(cs)
    assert op.before == {"revision_number": 1, "question": "Showers?", "answer": "Yes, four.", "is_active": True}
    assert op.after == {"question": "Showers?", "answer": "Yes, six."}
    assert faq.revisions.count() == 1

    services.change_set_apply(change_set=cs, actor=admin)
    faq.refresh_from_db()
    assert (faq.answer, faq.revision_number) == ("Yes, six.", 2)
    assert faq.revisions.get(number=2).action == FaqRevision.Action.EDITED

    services.change_set_undo(change_set=cs, actor=admin)
    faq.refresh_from_db()
    latest = faq.revisions.get(number=3)
    assert (faq.answer, latest.action, latest.restored_from.number) == ("Yes, four.", "restored", 1)


def test_faq_create_then_undo_deletes_it_softly(workspace, admin):
    cs = preview(workspace, admin, OperationSpec("knowledge.faq", {"question": "Parking?", "answer": "Yes."}))
    assert only_op(cs).before == {} and not FaqEntry.objects.filter(workspace=workspace).exists()
    services.change_set_apply(change_set=cs, actor=admin)
    faq = FaqEntry.objects.get(workspace=workspace)
    assert only_op(cs).target_id == faq.pk and faq.is_active
    services.change_set_undo(change_set=cs, actor=admin)
    faq.refresh_from_db()
    assert not faq.is_active and faq.revisions.count() == 2


def test_faq_undo_refused_after_a_later_edit(workspace, admin):
    faq = knowledge_services.faq_create(workspace=workspace, question="Mats?", answer="Bring one.", actor=admin)
    cs = preview(workspace, admin, OperationSpec("knowledge.faq", {"question": "Mats?", "answer": "We lend them."},
                                                 target_id=faq.pk))
    services.change_set_apply(change_set=cs, actor=admin)
    knowledge_services.faq_update(faq=faq, question="Mats?", answer="Sold at the desk.", actor=admin)
    with pytest.raises(ChangeConflict, match="Mats"):
        services.change_set_undo(change_set=cs, actor=admin)
    faq.refresh_from_db()
    assert (faq.answer, faq.revision_number) == ("Sold at the desk.", 3)


# --- conversations: saved replies -----------------------------------------------------------------

def test_saved_reply_create_then_undo_deletes_it_and_a_later_edit_blocks_undo(workspace, admin):
    cs = preview(workspace, admin, OperationSpec("conversation.saved_reply",
                                                 {"title": " Hours ", "body": "Hi {first_name}!", "shortcut": "/Hours"}))
    assert only_op(cs).after == {"title": "Hours", "body": "Hi {first_name}!", "shortcut": "hours"}
    assert not SavedReply.objects.filter(workspace=workspace).exists()
    services.change_set_apply(change_set=cs, actor=admin)
    saved = SavedReply.objects.get(workspace=workspace)
    assert only_op(cs).target_id == saved.pk and saved.body == "Hi {first_name}!"
    services.change_set_undo(change_set=cs, actor=admin)
    assert not SavedReply.objects.filter(workspace=workspace).exists()

    again = preview(workspace, admin, OperationSpec("conversation.saved_reply", {"title": "Hours", "body": "9 to 5."}))
    services.change_set_apply(change_set=again, actor=admin)
    saved = SavedReply.objects.get(workspace=workspace)
    saved_replies.saved_reply_update(saved_reply=saved, title="Hours", body="9 to 6.", actor=admin)
    with pytest.raises(ChangeConflict, match="Hours"):
        services.change_set_undo(change_set=again, actor=admin)
    assert SavedReply.objects.get(workspace=workspace).body == "9 to 6."


def test_saved_reply_preview_refuses_an_edit_an_empty_text_and_a_setter(workspace, admin, setter):
    saved = saved_replies.saved_reply_create(workspace=workspace, title="Hours", body="9 to 5.", actor=admin)
    with pytest.raises(ValidationError, match="only adds"):
        preview(workspace, admin, OperationSpec("conversation.saved_reply", {"title": "Hours", "body": "x"},
                                                target_id=saved.pk))
    with pytest.raises(ValidationError, match="title and a text"):
        preview(workspace, admin, OperationSpec("conversation.saved_reply", {"title": "Hours", "body": "  "}))
    with pytest.raises(PermissionDenied):
        preview(workspace, setter, OperationSpec("conversation.saved_reply", {"title": "Hours", "body": "9 to 5."}))


# --- contacts -------------------------------------------------------------------------------------

def test_contact_state_preview_apply_undo(workspace, setter, contact):
    cs = preview(workspace, setter, OperationSpec("contact.state", {"stage": "qualified", "lead_score": 80},
                                                  target_id=contact.pk), source="autocrm")
    op = only_op(cs)
    assert (op.before, op.after) == ({"stage": "new", "lead_score": 0}, {"stage": "qualified", "lead_score": 80})
    assert not ContactStateChange.objects.filter(contact=contact).exists()

    services.change_set_apply(change_set=cs, actor=setter)
    contact.refresh_from_db()
    assert (contact.stage, contact.lead_score) == ("qualified", 80)
    history = ContactStateChange.objects.get(contact=contact)
    assert (history.stage, history.lead_score, history.changed_by) == ("qualified", 80, setter)

    services.change_set_undo(change_set=cs, actor=setter)
    contact.refresh_from_db()
    assert (contact.stage, contact.lead_score) == ("new", 0)
    assert ContactStateChange.objects.filter(contact=contact).count() == 2


def test_contact_state_undo_refused_after_a_later_stage_change(workspace, setter, contact):
    cs = preview(workspace, setter, OperationSpec("contact.state", {"stage": "qualified"}, target_id=contact.pk))
    services.change_set_apply(change_set=cs, actor=setter)
    contact_services.contact_stage_set(contact=contact, stage=Stage.LOST, actor=setter)
    with pytest.raises(ChangeConflict, match=str(contact)):
        services.change_set_undo(change_set=cs, actor=setter)
    contact.refresh_from_db()
    assert contact.stage == Stage.LOST


def test_booking_preview_apply_undo(workspace, setter, contact):
    at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    cs = preview(workspace, setter, OperationSpec("contact.booking", {"kind": "booked", "occurred_at": at.isoformat()},
                                                  target_id=contact.pk))
    op = only_op(cs)
    assert op.before == {"stage": "new", "booked_at": None, "booking_canceled_at": None}
    assert op.after["kind"] == "booked" and not BookingEvent.objects.exists()

    services.change_set_apply(change_set=cs, actor=setter)
    contact.refresh_from_db()
    event = BookingEvent.objects.get(contact=contact)
    assert (contact.stage, contact.booked_at, event.occurred_at) == ("booked", at, at)

    services.change_set_undo(change_set=cs, actor=setter)
    contact.refresh_from_db()
    assert (contact.stage, contact.booked_at) == ("new", None)
    assert not BookingEvent.objects.filter(contact=contact).exists()
    assert AuditEvent.objects.filter(verb="contact.booking_booked_reverted").exists()


def test_booking_undo_refused_after_a_later_booking(workspace, setter, contact):
    cs = preview(workspace, setter, OperationSpec("contact.booking", {"kind": "booked"}, target_id=contact.pk))
    services.change_set_apply(change_set=cs, actor=setter)
    contact_services.contact_booking_record(contact=contact, kind="canceled", occurred_at=timezone.now(), actor=setter)
    with pytest.raises(ChangeConflict):
        services.change_set_undo(change_set=cs, actor=setter)
    assert BookingEvent.objects.filter(contact=contact).count() == 2


def test_booking_far_in_the_future_is_refused_at_preview(workspace, setter, contact):
    far = (timezone.now() + timedelta(days=800)).isoformat()
    with pytest.raises(ValidationError, match="more than a year"):
        preview(workspace, setter, OperationSpec("contact.booking", {"kind": "booked", "occurred_at": far},
                                                 target_id=contact.pk))


def test_memory_add_apply_undo_and_refusal_after_an_edit(workspace, admin, setter, contact):
    cs = preview(workspace, setter, OperationSpec("contact.memory_add", {"kind": "preference", "text": "mornings"},
                                                  target_id=contact.pk))
    assert only_op(cs).before == {} and not LeadMemory.objects.exists()
    services.change_set_apply(change_set=cs, actor=setter)
    memory = LeadMemory.objects.get(contact=contact)
    assert (memory.kind, memory.text, memory.created_by) == ("preference", "mornings", setter)
    services.change_set_undo(change_set=cs, actor=setter)
    assert not LeadMemory.objects.filter(contact=contact).exists()

    again = preview(workspace, setter, OperationSpec("contact.memory_add", {"kind": "fact", "text": "two kids"},
                                                     target_id=contact.pk))
    services.change_set_apply(change_set=again, actor=setter)
    memory = LeadMemory.objects.get(contact=contact)
    contact_services.lead_memory_update(memory=memory, text="three kids", actor=admin)
    with pytest.raises(ChangeConflict):
        services.change_set_undo(change_set=again, actor=setter)
    assert LeadMemory.objects.get(contact=contact).text == "three kids"


def test_memory_remove_apply_undo(workspace, admin, contact):
    memory = contact_services.lead_memory_add(contact=contact, kind="objection", text="too pricey", actor=admin)
    cs = preview(workspace, admin, OperationSpec("contact.memory_remove", target_id=memory.pk))
    assert only_op(cs).before["text"] == "too pricey" and only_op(cs).after == {"removed": True}
    services.change_set_apply(change_set=cs, actor=admin)
    assert not LeadMemory.objects.filter(contact=contact).exists()
    services.change_set_undo(change_set=cs, actor=admin)
    back = LeadMemory.objects.get(contact=contact)
    assert (back.kind, back.text, back.expires_at) == ("objection", "too pricey", memory.expires_at)


# --- follow-up strategy and a suggested draft (the assistant's kinds) ---------------------------------

def test_follow_up_strategy_replaced_then_undo_puts_the_previous_one_back(workspace, setter, contact):
    from contacts.models import FollowUpStrategy

    contact_services.follow_up_strategy_set(contact=contact, title="Old", steps=[{"after_hours": 48, "action": "Call"}],
                                            actor=setter)
    with pytest.raises(ValidationError, match="whole number of hours"):
        preview(workspace, setter, OperationSpec("contact.follow_up_strategy",
                                                 {"title": "Bad", "steps": [{"after_hours": -1, "action": "x"}]},
                                                 target_id=contact.pk))
    cs = preview(workspace, setter, OperationSpec("contact.follow_up_strategy", {"title": "New", "steps": [
        {"after_hours": 24, "action": "Ask   which day"}]}, target_id=contact.pk))
    op = only_op(cs)
    assert op.before == {"title": "Old", "steps": [{"after_hours": 48, "action": "Call"}]}
    assert op.after == {"title": "New", "steps": [{"after_hours": 24, "action": "Ask which day"}]}
    services.change_set_apply(change_set=cs, actor=setter)
    assert FollowUpStrategy.objects.get(contact=contact).title == "New"
    services.change_set_undo(change_set=cs, actor=setter)
    strategy = FollowUpStrategy.objects.get(contact=contact)
    assert (strategy.title, strategy.steps) == ("Old", [{"after_hours": 48, "action": "Call"}])


def test_a_suggested_draft_undo_is_refused_once_a_newer_draft_took_its_place(workspace, setter, contact):
    from conversations.assisted_drafts import reply_draft_suggest
    from conversations.models import Decision, ReplyDraft
    from conversations.tests.factories import ThreadFactory

    thread = ThreadFactory(contact=contact, channel=contact.channel)
    cs = preview(workspace, setter, OperationSpec("conversation.draft", {"text": "Hi!"}, target_id=thread.pk))
    services.change_set_apply(change_set=cs, actor=setter)
    reply_draft_suggest(thread=thread, text="Hello again", actor=setter)
    with pytest.raises(ChangeConflict):
        services.change_set_undo(change_set=cs, actor=setter)
    assert ReplyDraft.objects.get(pk=only_op(cs).result["draft_id"]).decision == Decision.SUPERSEDED


# --- knowledge: text documents ---------------------------------------------------------------------

def _upload(workspace, admin, name, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return knowledge_services.document_upload(workspace=workspace, actor=admin,
                                              upload=SimpleUploadedFile(name, data)).document


def test_document_edit_undo_refused_after_a_later_upload(workspace, admin):
    document = _upload(workspace, admin, "hours.txt", b"Open 9 to 5.")
    cs = preview(workspace, admin, OperationSpec("knowledge.document", {"title": "", "text": "Open 9 to 6."},
                                                 target_id=document.pk))
    assert only_op(cs).before["revision_number"] == 1
    services.change_set_apply(change_set=cs, actor=admin)
    assert bytes(document.revisions.get(number=2).content) == b"Open 9 to 6."
    _upload(workspace, admin, "hours.txt", b"Open 8 to 8.")  # someone uploads a new version
    with pytest.raises(ChangeConflict, match="hours"):
        services.change_set_undo(change_set=cs, actor=admin)
    assert document.revisions.order_by("-number").first().number == 3


def test_document_preview_refuses_a_pdf_edit_a_taken_name_and_the_same_text(workspace, admin):
    pdf = _upload(workspace, admin, "menu.pdf", b"%PDF-1.4 not really")
    text = _upload(workspace, admin, "faq-sheet.txt", b"Same text.")
    with pytest.raises(ValidationError, match="Only plain-text and Markdown"):
        preview(workspace, admin, OperationSpec("knowledge.document", {"text": "x"}, target_id=pdf.pk))
    with pytest.raises(ValidationError, match="exists already"):
        preview(workspace, admin, OperationSpec("knowledge.document", {"title": "FAQ sheet", "text": "x"}))
    with pytest.raises(ValidationError, match="already the current value"):
        preview(workspace, admin, OperationSpec("knowledge.document", {"text": "Same text."}, target_id=text.pk))

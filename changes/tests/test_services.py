"""The change mechanism itself: stale previews, all or nothing, tenancy, roles, state, audit."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import AuditEvent
from accounts.tests.factories import MembershipFactory, UserFactory
from changes import services
from changes.models import ChangeSet, Operation, Status
from changes.services import ChangeConflict, ChangeSetStateError, OperationSpec
from contacts import services as contact_services
from contacts.models import ContactStateChange, LeadMemory
from contacts.tests.factories import ContactFactory
from conversations import services as conversation_services
from conversations.models import PromptRevision
from conversations.selectors import sidekick_settings_for
from knowledge import services as knowledge_services

pytestmark = pytest.mark.django_db


def preview(workspace, actor, *ops, **kwargs):
    return services.change_set_preview(workspace=workspace, actor=actor, operations=list(ops), **kwargs)


def stage(contact, value):
    return OperationSpec("contact.state", {"stage": value}, target_id=contact.pk)


def test_apply_refused_on_a_stale_preview_and_nothing_is_applied(workspace, admin, contact):
    cs = preview(workspace, admin, stage(contact, "qualified"),
                 OperationSpec("prompt.revision", {"text": "New prompt."}))
    conversation_services.prompt_revision_create(workspace=workspace, text="Meanwhile.", actor=admin)
    with pytest.raises(ChangeConflict, match="step 2: System prompt") as refused:
        services.change_set_apply(change_set=cs, actor=admin)
    assert [op.position for op in refused.value.operations] == [1]
    contact.refresh_from_db()
    assert contact.stage == "new" and not ContactStateChange.objects.exists()  # step 1 held, yet not applied
    assert list(PromptRevision.objects.filter(workspace=workspace).values_list("text", flat=True)) == ["Meanwhile."]
    cs.refresh_from_db()
    assert cs.status == Status.FAILED and "Changed since the preview" in cs.error
    assert not AuditEvent.objects.filter(verb="changes.applied").exists()


def test_a_failed_set_cannot_be_applied_later(workspace, admin, contact):
    cs = preview(workspace, admin, stage(contact, "qualified"))
    contact_services.contact_stage_set(contact=contact, stage="lost", actor=admin)
    with pytest.raises(ChangeConflict):
        services.change_set_apply(change_set=cs, actor=admin)
    contact_services.contact_stage_set(contact=contact, stage="new", actor=admin)  # back as previewed
    with pytest.raises(ChangeSetStateError):
        services.change_set_apply(change_set=cs, actor=admin)
    contact.refresh_from_db()
    assert contact.stage == "new"


def test_preview_refuses_the_whole_set_when_the_second_operation_is_invalid(workspace, admin, contact):
    with pytest.raises(ValidationError) as refused:
        preview(workspace, admin, stage(contact, "qualified"), OperationSpec("contact.state", {"lead_score": 101},
                                                                           target_id=contact.pk))
    assert refused.value.messages == ["Step 2 (Stage, sentiment and score): "
                                      "The lead score is a whole number from 0 to 100."]
    assert not ChangeSet.objects.exists() and not Operation.objects.exists()


def test_apply_is_all_or_nothing_when_an_owning_service_refuses_the_second_operation(workspace, admin, contact):
    # Membership of escalation emails is checked by the settings service only, at apply.
    cs = preview(workspace, admin, stage(contact, "qualified"),
                 OperationSpec("sidekick.settings", {"threshold": 0.95, "escalation_emails": ["stranger@example.com"]}))
    with pytest.raises(ValidationError, match="Step 2 .*Not members of this workspace: stranger@example.com"):
        services.change_set_apply(change_set=cs, actor=admin)
    contact.refresh_from_db()
    assert contact.stage == "new" and not ContactStateChange.objects.exists()
    assert sidekick_settings_for(workspace=workspace).threshold == 0.8
    cs.refresh_from_db()
    assert cs.status == Status.FAILED and "stranger@example.com" in cs.error
    assert set(cs.operations.values_list("state", flat=True)) == {Status.FAILED}


def test_undo_is_refused_as_a_whole_and_names_what_changed(workspace, admin, contact):
    faq = knowledge_services.faq_create(workspace=workspace, question="Towels?", answer="No.", actor=admin)
    cs = preview(workspace, admin, stage(contact, "qualified"),
                 OperationSpec("knowledge.faq", {"question": "Towels?", "answer": "Yes, free."}, target_id=faq.pk))
    services.change_set_apply(change_set=cs, actor=admin)
    contact_services.contact_stage_set(contact=contact, stage="booked", actor=admin)
    with pytest.raises(ChangeConflict) as refused:
        services.change_set_undo(change_set=cs, actor=admin)
    assert f"step 1: contact {contact} (stage)" in refused.value.messages[0]
    assert "Towels" not in refused.value.messages[0]  # the FAQ did not change: not named
    faq.refresh_from_db()
    assert faq.answer == "Yes, free." and faq.revision_number == 2  # the FAQ was not undone alone
    cs.refresh_from_db()
    assert cs.status == Status.APPLIED


def test_apply_and_undo_are_audited_and_recorded(workspace, admin, setter, contact):
    cs = preview(workspace, setter, stage(contact, "engaged"), source="assistant", title="After the call")
    assert (cs.status, cs.source, cs.created_by) == (Status.PREVIEWED, "assistant", setter)
    services.change_set_apply(change_set=cs, actor=setter)
    applied = AuditEvent.objects.get(verb="changes.applied")
    assert (applied.workspace, applied.actor, applied.target) == (workspace, setter, f"changes.changeset:{cs.pk}")
    assert applied.data["operations"] == [{"kind": "contact.state", "label": f"contact {contact} (stage)",
                                           "target_id": contact.pk}]
    services.change_set_undo(change_set=cs, actor=admin)
    cs.refresh_from_db()
    assert (cs.status, cs.applied_by, cs.undone_by) == (Status.UNDONE, setter, admin)
    assert cs.applied_at <= cs.undone_at
    assert AuditEvent.objects.get(verb="changes.undone").actor == admin
    with pytest.raises(ChangeSetStateError):
        services.change_set_undo(change_set=cs, actor=admin)


def test_undo_of_a_set_not_applied_is_refused(workspace, admin, contact):
    cs = preview(workspace, admin, stage(contact, "engaged"))
    with pytest.raises(ChangeSetStateError):
        services.change_set_undo(change_set=cs, actor=admin)
    services.change_set_apply(change_set=cs, actor=admin)
    with pytest.raises(ChangeSetStateError):
        services.change_set_apply(change_set=cs, actor=admin)
    assert ContactStateChange.objects.filter(contact=contact).count() == 1


@pytest.mark.parametrize("kind", ["contact.state", "knowledge.faq", "contact.memory_remove"])
def test_another_workspaces_target_is_refused(workspace, other_workspace, admin, kind):
    foreign_contact = ContactFactory(channel__workspace=other_workspace)
    targets = {
        "contact.state": (foreign_contact.pk, {"stage": "lost"}),
        "knowledge.faq": (knowledge_services.faq_create(workspace=other_workspace, question="Q?", answer="A.",
                                                        actor=None).pk, {"question": "Q?", "answer": "B."}),
        "contact.memory_remove": (LeadMemory.objects.create(workspace=other_workspace, contact=foreign_contact,
                                                            kind="fact", text="secret").pk, {}),
    }
    target_id, after = targets[kind]
    with pytest.raises(ValidationError, match="in this workspace"):
        preview(workspace, admin, OperationSpec(kind, after, target_id=target_id))
    assert not ChangeSet.objects.exists()


def test_a_set_previewed_in_one_workspace_cannot_be_applied_by_a_member_of_another(workspace, other_workspace,
                                                                                   admin, contact):
    cs = preview(workspace, admin, stage(contact, "engaged"))
    outsider = MembershipFactory(workspace=other_workspace, role="admin").user
    with pytest.raises(PermissionDenied):
        services.change_set_apply(change_set=cs, actor=outsider)
    with pytest.raises(PermissionDenied):
        preview(workspace, outsider, stage(contact, "lost"))
    cs.refresh_from_db()
    assert cs.status == Status.PREVIEWED


@pytest.mark.parametrize("spec", [
    OperationSpec("prompt.revision", {"text": "Mine now."}),
    OperationSpec("sidekick.settings", {"auto_send": False}),
    OperationSpec("knowledge.faq", {"question": "New?", "answer": "Yes."}),
])
def test_setters_may_not_preview_admin_kinds(workspace, setter, spec):
    with pytest.raises(PermissionDenied, match="Only workspace admins"):
        preview(workspace, setter, spec)
    assert not ChangeSet.objects.exists()


def test_setters_may_not_remove_lead_memory(workspace, setter, contact):
    memory = LeadMemory.objects.create(workspace=workspace, contact=contact, kind="fact", text="has a dog")
    with pytest.raises(PermissionDenied):
        preview(workspace, setter, OperationSpec("contact.memory_remove", target_id=memory.pk))


def test_setters_may_neither_apply_nor_undo_a_set_with_an_admin_kind(workspace, admin, setter, contact):
    cs = preview(workspace, admin, stage(contact, "engaged"), OperationSpec("sidekick.settings", {"threshold": 0.7}))
    with pytest.raises(PermissionDenied, match="Sidekick settings"):
        services.change_set_apply(change_set=cs, actor=setter)
    cs.refresh_from_db()
    contact.refresh_from_db()
    assert cs.status == Status.PREVIEWED and contact.stage == "new"
    services.change_set_apply(change_set=cs, actor=admin)
    with pytest.raises(PermissionDenied):
        services.change_set_undo(change_set=cs, actor=setter)
    assert sidekick_settings_for(workspace=workspace).threshold == 0.7


def test_a_superadmin_acts_as_an_admin_everywhere(workspace, settings, contact):
    settings.SUPERADMIN_EMAILS = ["root@example.com"]
    root = UserFactory(email="root@example.com")
    cs = preview(workspace, root, OperationSpec("sidekick.settings", {"threshold": 0.6}))
    services.change_set_apply(change_set=cs, actor=root)
    assert sidekick_settings_for(workspace=workspace).threshold == 0.6


def test_two_operations_writing_the_same_field_are_refused(workspace, admin, contact):
    with pytest.raises(ValidationError, match="Step 2.*Step 1 already changes this"):
        preview(workspace, admin, stage(contact, "engaged"),
                OperationSpec("contact.booking", {"kind": "booked"}, target_id=contact.pk))
    # Different fields of one contact are fine.
    preview(workspace, admin, stage(contact, "engaged"),
            OperationSpec("contact.state", {"lead_score": 70}, target_id=contact.pk))


def test_a_change_to_the_current_value_is_refused(workspace, admin, contact):
    with pytest.raises(ValidationError, match="already the current value"):
        preview(workspace, admin, stage(contact, "new"))


@pytest.mark.parametrize("operations", [[], [{"kind": "contact.delete", "target_id": 1, "after": {}}]])
def test_empty_and_unknown_operations_are_refused(workspace, admin, operations):
    with pytest.raises(ValidationError):
        services.change_set_preview(workspace=workspace, actor=admin, operations=operations)

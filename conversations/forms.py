from django import forms

from contacts.models import Stage
from conversations.models import BusinessHoursPolicy
from integrations.llm.models import LLMProvider
from integrations.models import Platform


class InboxFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search", widget=forms.TextInput(attrs={
        "type": "search", "placeholder": "Search name or message", "aria-label": "Search by name or message text"}))
    platform = forms.ChoiceField(required=False, choices=[("", "All platforms"), *Platform.choices],
                                 widget=forms.Select(attrs={"aria-label": "Platform"}))
    stage = forms.ChoiceField(required=False, choices=[("", "All stages"), *Stage.choices],
                              widget=forms.Select(attrs={"aria-label": "Stage"}))
    needs_human = forms.BooleanField(required=False, label="Needs human")
    ai_paused = forms.BooleanField(required=False, label="AI paused")
    # Set by the tabs and the owner links; kept as hidden inputs so the other filters preserve them.
    status = forms.ChoiceField(required=False, choices=[(t, t) for t in ("open", "needs_human", "snoozed", "resolved")],
                               widget=forms.HiddenInput)
    owner = forms.ChoiceField(required=False, choices=[("", "all"), ("mine", "mine"), ("unassigned", "unassigned")],
                              widget=forms.HiddenInput)


SNOOZE_CHOICES = [("1h", "For 1 hour"), ("3h", "For 3 hours"), ("tomorrow", "Until tomorrow 9:00"),
                  ("week", "Until Monday 9:00"), ("custom", "Until…")]


def snooze_until(choice: str, custom, now):
    """The moment a snooze choice means, in the current (workspace) time zone; None if it makes no sense."""
    from datetime import datetime, time, timedelta

    from django.utils import timezone

    local = timezone.localtime(now)
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "3h":
        return now + timedelta(hours=3)
    if choice in ("tomorrow", "week"):
        days = 1 if choice == "tomorrow" else (7 - local.weekday()) or 7
        day = local.date() + timedelta(days=days)
        return timezone.make_aware(datetime.combine(day, time(9, 0)))
    if choice == "custom":
        return custom
    return None


class SnoozeForm(forms.Form):
    snooze = forms.ChoiceField(choices=SNOOZE_CHOICES, label="Snooze",
                               widget=forms.Select(attrs={"aria-label": "Snooze how long"}))
    until = forms.DateTimeField(required=False, label="Until", widget=forms.DateTimeInput(
        attrs={"type": "datetime-local", "aria-label": "Snooze until"}, format="%Y-%m-%dT%H:%M"))

    def until_at(self, now):
        return snooze_until(self.cleaned_data["snooze"], self.cleaned_data.get("until"), now)


class AssignForm(forms.Form):
    # A user id, checked against the workspace's members by `services.thread_assign`; empty: nobody.
    assignee = forms.IntegerField(required=False, min_value=1)


BULK_ACTIONS = [("assign_me", "Assign to me"), ("assign", "Assign to…"), ("unassign", "Unassign"),
                ("resolve", "Resolve"), ("reopen", "Reopen"), ("snooze", "Snooze")]


class BulkForm(SnoozeForm):
    """Selected rows of the inbox and what to do with them. The ids are looked up in the workspace only."""

    ids = forms.TypedMultipleChoiceField(coerce=int, required=True)
    action = forms.ChoiceField(choices=BULK_ACTIONS)
    assignee = forms.IntegerField(required=False, min_value=1)
    snooze = forms.ChoiceField(choices=SNOOZE_CHOICES, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any integer is accepted here; ids of other workspaces are dropped by the selector.
        self.fields["ids"].valid_value = lambda value: str(value).isascii() and str(value).isdigit()


class ReplyForm(forms.Form):
    # The platform limit is applied (with a sentence-aware cut) by the sending layer.
    text = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={
        "rows": 3, "aria-label": "Reply", "placeholder": "Write a reply… (Ctrl+Enter sends)"}))


class DraftEditForm(forms.Form):
    text = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 4, "aria-label": "Edit the draft", "id": "draft-edit-text"}))


class AutoModeForm(forms.Form):
    auto_send = forms.BooleanField(required=False, label="Send automatically when confident")
    threshold = forms.FloatField(min_value=0.0, max_value=1.0, widget=forms.NumberInput(attrs={"step": "0.05"}),
                                 label="Confidence threshold")


class PromptForm(forms.Form):
    text = forms.CharField(max_length=20000, widget=forms.Textarea(attrs={"rows": 14, "aria-label": "System prompt"}))
    note = forms.CharField(max_length=300, required=False, label="What changed (note)")


WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class SidekickSettingsForm(forms.Form):
    """Every setting `services.sidekick_settings_update` accepts; the service validates again."""

    enabled = forms.BooleanField(required=False, label="Sidekick drafts replies")
    auto_send = forms.BooleanField(required=False, label="Auto-send confident replies")
    use_human_agent_tag = forms.BooleanField(
        required=False, label="Allow Meta's HUMAN_AGENT tag (setters may reply up to 7 days on Messenger)")
    threshold = forms.FloatField(min_value=0.0, max_value=1.0, widget=forms.NumberInput(attrs={"step": "0.05"}))
    language = forms.CharField(max_length=8)
    blacklist = forms.CharField(required=False, label="Blacklist (one phrase or topic per line)",
                                widget=forms.Textarea(attrs={"rows": 4}))
    allowed_domains = forms.CharField(
        required=False, label="Domains replies may link to (one per line)", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Links, e-mail addresses and phone numbers in the knowledge base are allowed already; any other "
                  "link keeps the reply for a person.")
    screen_provider = forms.ModelChoiceField(
        queryset=None, required=False, label="Screening model",
        empty_label="The workspace's default provider",
        help_text="A second model that reads each message alone before a reply is sent; it can stop a send, never allow one.")
    business_hours_policy = forms.ChoiceField(label="Business hours", choices=[])
    business_days = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=WEEKDAYS,
                                                   widget=forms.CheckboxSelectMultiple)
    opens_at = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    closes_at = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    debounce_seconds = forms.IntegerField(min_value=0, max_value=120, label="Debounce (seconds)")
    follow_up_after_hours = forms.IntegerField(min_value=1, max_value=720, label="Suggest a follow-up after (hours quiet)")
    escalation_emails = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                                  label="Email these members when Sidekick escalates")

    def __init__(self, *args, member_emails=(), providers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_hours_policy"].choices = BusinessHoursPolicy.choices
        self.fields["escalation_emails"].choices = [(email, email) for email in member_emails]
        self.fields["screen_provider"].queryset = providers if providers is not None else LLMProvider.objects.none()

    @classmethod
    def from_settings(cls, cfg, *, member_emails=(), providers=None, admin_emails=()):
        lines = {"blacklist", "allowed_domains"}
        # Until an admin chooses, escalation emails go to the admins: show them ticked.
        emails = cfg.escalation_emails if cfg.escalation_emails is not None else list(admin_emails)
        return cls(initial={name: getattr(cfg, name) for name in cls.base_fields if name not in lines}
                   | {name: "\n".join(getattr(cfg, name) or []) for name in lines}
                   | {"screen_provider": cfg.screen_provider_id, "escalation_emails": emails},
                   member_emails=member_emails, providers=providers)

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        for name in ("blacklist", "allowed_domains"):
            data[name] = [line.strip() for line in data[name].splitlines() if line.strip()]
        return data


class FollowUpStepForm(forms.Form):
    """One step of the sequence; the service validates the whole sequence (order, window, tag)."""

    # Shown as a table row under column headings: each input carries its own name for screen readers.
    delay_hours = forms.IntegerField(min_value=1, max_value=167, label="Hours after the business's message",
                                     widget=forms.NumberInput(attrs={"inputmode": "numeric",
                                                                     "aria-label": "Hours after the business's message"}))
    use_human_agent_tag = forms.BooleanField(
        required=False, label="Human Agent step (a setter sends it, Messenger)",
        widget=forms.CheckboxInput(attrs={"aria-label": "Human Agent step (a setter sends it, Messenger)"}))
    enabled = forms.BooleanField(required=False, initial=True, label="On",
                                 widget=forms.CheckboxInput(attrs={"aria-label": "Step on"}))


class _FollowUpStepBaseFormSet(forms.BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields["ORDER"].widget.attrs.update({"aria-label": "Order", "inputmode": "numeric"})
        form.fields["DELETE"].widget.attrs.update({"aria-label": "Remove this step"})


# ORDER reorders the steps, DELETE removes one; one blank row adds a step.
FollowUpStepFormSet = forms.formset_factory(FollowUpStepForm, formset=_FollowUpStepBaseFormSet, extra=1, can_order=True,
                                            can_delete=True, max_num=6, absolute_max=6)


def follow_up_steps_from(formset) -> list[dict]:
    """The steps the admin kept, in the order they gave (`ordered_forms` skips deleted and blank rows and
    puts rows without an order last)."""
    return [{k: f.cleaned_data[k] for k in ("delay_hours", "use_human_agent_tag", "enabled")}
            for f in formset.ordered_forms]
class SavedReplyForm(forms.Form):
    title = forms.CharField(max_length=100)
    shortcut = forms.SlugField(max_length=40, required=False,
                               help_text='Optional: type "/" and this word in a reply to find it, e.g. price.')
    body = forms.CharField(label="Text", max_length=4000, widget=forms.Textarea(attrs={"rows": 4}))

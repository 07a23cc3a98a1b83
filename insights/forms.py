from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone

DEFAULT_DAYS = 28


def default_window() -> dict:
    """The last 28 days ending today, in the current (the workspace's) time zone."""
    today = timezone.localdate()
    return {"first_day": today - timedelta(days=DEFAULT_DAYS - 1), "last_day": today}


class RunForm(forms.Form):
    """The window of a run, as days in the workspace's time zone; both days are included."""

    first_day = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    last_day = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and first > last:
            raise forms.ValidationError("The first day must not be after the last day.")
        if first and first > timezone.localdate():
            raise forms.ValidationError("The window cannot start in the future.")
        return data


class CompareForm(forms.Form):
    a = forms.IntegerField(min_value=1)
    b = forms.IntegerField(min_value=1)


class CellForm(forms.Form):
    """Which cell of a report: sender × purpose × channel ("all" for a roll-up)."""

    sender = forms.ChoiceField(choices=[(v, v) for v in ("all", "ai_auto", "ai_approved", "ai_edited", "setter",
                                                         "business_outside")])
    purpose = forms.ChoiceField(choices=[(v, v) for v in ("all", "reply", "follow_up")])
    channel = forms.ChoiceField(choices=[(v, v) for v in ("all", "instagram", "messenger")])

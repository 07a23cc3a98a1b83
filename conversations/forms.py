from django import forms

from contacts.models import Stage
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


class ReplyForm(forms.Form):
    # The platform limit is applied (with a sentence-aware cut) by the sending layer.
    text = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={
        "rows": 3, "aria-label": "Reply", "placeholder": "Write a reply… (Ctrl+Enter sends)"}))

from django import forms
from django.utils import timezone

from contacts.models import BookingEvent, Stage
from contacts.selectors import SORTS


class ContactFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={
        "type": "search", "placeholder": "Search name or username", "aria-label": "Search contacts"}))
    stage = forms.ChoiceField(required=False, choices=[("", "All stages"), *Stage.choices],
                              widget=forms.Select(attrs={"aria-label": "Stage"}))
    sort = forms.ChoiceField(required=False, choices=[("recent", "Latest message"), ("score", "Lead score"),
                                                      ("name", "Name")],
                             widget=forms.Select(attrs={"aria-label": "Sort by"}))
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)

    def clean_sort(self):
        return self.cleaned_data["sort"] if self.cleaned_data["sort"] in SORTS else "recent"


class StageForm(forms.Form):
    stage = forms.ChoiceField(choices=Stage.choices, widget=forms.Select(attrs={"aria-label": "Stage"}))


class BookingForm(forms.Form):
    kind = forms.ChoiceField(choices=[(BookingEvent.Kind.BOOKED, "Booked"), (BookingEvent.Kind.CANCELED, "Canceled")])
    occurred_at = forms.DateTimeField(label="When", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                      input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
    note = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("occurred_at", timezone.localtime().strftime("%Y-%m-%dT%H:%M"))

from django import forms

from privacy.models import Kind


class MyDataForm(forms.Form):
    kind = forms.ChoiceField(choices=Kind.choices)
    confirm = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("kind") == Kind.ERASURE and not data.get("confirm"):
            raise forms.ValidationError("Tick the box to confirm: erased conversations cannot be brought back.")
        return data


class ContactRequestForm(forms.Form):
    contact = forms.CharField(max_length=100, label="Contact",
                              help_text="Its number in Sidekick, @username, or Meta's id (PSID / IGSID).")
    kind = forms.ChoiceField(choices=Kind.choices)
    confirm = forms.BooleanField(required=False, label="I understand an erasure cannot be undone")

    def clean(self):
        data = super().clean()
        if data.get("kind") == Kind.ERASURE and not data.get("confirm"):
            raise forms.ValidationError("Tick the box to confirm: an erasure cannot be undone.")
        return data

from django import forms

from integrations.models import Platform


class ChannelConnectForm(forms.Form):
    """Connect an account, or reconnect it (same platform and account id) with a new token."""

    platform = forms.ChoiceField(choices=Platform.choices)
    account_id = forms.CharField(max_length=64, label="Account id",
                                 help_text="Instagram: the professional account's user id. Messenger: the Page id.")
    # Never rendered back: a failed submit asks for the token again.
    token = forms.CharField(max_length=2000, label="Access token",
                            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}))
    name = forms.CharField(max_length=200, required=False, label="Name (optional)")


class SandboxMessageForm(forms.Form):
    channel = forms.TypedChoiceField(coerce=int, label="Channel")
    sender = forms.RegexField(regex=r"^[A-Za-z0-9_.-]{1,64}$", max_length=64, initial="sandbox-contact-1",
                              label="Contact id", help_text="Letters, digits, dot, dash or underscore.")
    name = forms.CharField(max_length=200, required=False, label="Contact name",
                           help_text="Shown in the inbox as this contact's name (optional).")
    text = forms.CharField(max_length=2000, label="Message", widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, channels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c.pk, str(c)) for c in channels]

class PageChoiceForm(forms.Form):
    """The Facebook Page to connect, among those the admin shared with Sidekick."""

    page = forms.ChoiceField(widget=forms.RadioSelect, error_messages={
        "required": "Choose a Page.", "invalid_choice": "Choose one of the listed Pages."})

    def __init__(self, *args, pages, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["page"].choices = [(page.id, f"{page.name} ({page.id})") for page in pages]

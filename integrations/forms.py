from django import forms


class PageChoiceForm(forms.Form):
    """The Facebook Page to connect, among those the admin shared with Sidekick."""

    page = forms.ChoiceField(widget=forms.RadioSelect, error_messages={
        "required": "Choose a Page.", "invalid_choice": "Choose one of the listed Pages."})

    def __init__(self, *args, pages, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["page"].choices = [(page.id, f"{page.name} ({page.id})") for page in pages]

from django import forms

from integrations.llm.models import ProviderKind


class PersonalKeyForm(forms.Form):
    kind = forms.ChoiceField(choices=ProviderKind.choices, label="Provider")
    model = forms.CharField(max_length=200, help_text="For Azure, the deployment name.")
    # Never rendered back; empty when editing keeps the stored key.
    api_key = forms.CharField(max_length=500, required=False, label="API key",
                              widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}))
    base_url = forms.URLField(max_length=500, required=False, label="Base URL", assume_scheme="https",
                              help_text="Azure endpoint, Ollama or OpenAI-compatible server; empty for the vendor's.")
    api_version = forms.CharField(max_length=40, required=False, label="API version (Azure)")

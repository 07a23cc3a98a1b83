from django import forms

from integrations.llm.models import ProviderKind

# Token limits (input + output). A bound well above any real month, far below the column's 64-bit range.
MAX_LIMIT = 10**12
LIMIT_ERRORS = {
    "invalid": "Enter a whole number of tokens (digits only), or leave it empty for no limit.",
    "min_value": "A limit cannot be negative: enter 0 or more, or leave it empty for no limit.",
    "max_value": f"That is more than {MAX_LIMIT:,} tokens; leave it empty for no limit.",
}
# (role, label) rows of the limits page; super-admins are never limited per user.
LIMIT_ROWS = [("setter", "Setters (each)"), ("admin", "Admins (each)"), ("workspace", "Whole workspace")]


class ProviderForm(forms.Form):
    kind = forms.ChoiceField(choices=ProviderKind.choices, label="Provider")
    model = forms.CharField(max_length=200, help_text="For Azure, the deployment name.")
    # Never rendered back; empty when editing keeps the stored key.
    api_key = forms.CharField(max_length=500, required=False, label="API key",
                              widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}))
    base_url = forms.URLField(max_length=500, required=False, label="Base URL", assume_scheme="https",
                              help_text="Azure endpoint, Ollama or OpenAI-compatible server; empty for the vendor's.")
    api_version = forms.CharField(max_length=40, required=False, label="API version (Azure)")
    temperature = forms.FloatField(required=False, min_value=0.0, max_value=2.0)
    max_tokens = forms.IntegerField(min_value=1, max_value=200_000, initial=1024, label="Max output tokens")
    make_default = forms.BooleanField(required=False, label="Use as the workspace default")


class QuotaLimitsForm(forms.Form):
    """Daily and monthly token limits per role and for the workspace; empty means no limit."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for role, label in LIMIT_ROWS:
            for period in ("daily", "monthly"):
                self.fields[f"{role}_{period}"] = forms.IntegerField(
                    required=False, min_value=0, max_value=MAX_LIMIT, error_messages=LIMIT_ERRORS,
                    label=f"{label}: {'per day' if period == 'daily' else 'per month'}",
                    widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))

    def clean(self):
        data = super().clean()
        for role, label in LIMIT_ROWS:
            daily, monthly = data.get(f"{role}_daily"), data.get(f"{role}_monthly")
            if daily is not None and monthly is not None and daily > monthly:
                self.add_error(f"{role}_daily", f"{label}: the daily limit is above the monthly one "
                                                f"({monthly:,}); it could never be reached.")
        return data

    def rows(self):
        """(label, daily field, monthly field) per role, for the template's table."""
        return [(label, self[f"{role}_daily"], self[f"{role}_monthly"]) for role, label in LIMIT_ROWS]

import re

from django import forms
from django.conf import settings

from knowledge.models import FTS_LANGUAGES, KnowledgeSettings

_MODEL_NAME = re.compile(r"^[\w.:/@+-]{1,200}$")


class UploadForm(forms.Form):
    file = forms.FileField()
    title = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (f"PDF, .txt or .md, up to {settings.KNOWLEDGE_MAX_UPLOAD_MB} MB. "
                                         "A file with the same name replaces the existing document.")


class FaqForm(forms.Form):
    question = forms.CharField(max_length=500, widget=forms.TextInput)
    answer = forms.CharField(max_length=10000, widget=forms.Textarea(attrs={"rows": 4}))


class CsvImportForm(forms.Form):
    file = forms.FileField(help_text="UTF-8 CSV with a header row: question,answer")


class SearchForm(forms.Form):
    q = forms.CharField(max_length=1000, label="Question")
    mode = forms.ChoiceField(choices=[("hybrid", "Hybrid"), ("lexical", "Full-text only"), ("vector", "Vector only")],
                             initial="hybrid", required=False)


class KnowledgeSettingsForm(forms.Form):
    embedding_provider = forms.ChoiceField(choices=KnowledgeSettings._meta.get_field("embedding_provider").choices)
    embedding_model = forms.CharField(max_length=200, required=False,
                                      help_text="For OpenAI-compatible endpoints, e.g. text-embedding-3-small")
    embedding_dimension = forms.IntegerField(min_value=0, max_value=16000, required=False)
    embedding_base_url = forms.URLField(max_length=500, required=False, assume_scheme="https",
                                        help_text="e.g. https://api.openai.com/v1 or http://localhost:11434/v1")
    embedding_api_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                                        help_text="Leave empty to keep the stored key.")
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored key")
    fts_language = forms.ChoiceField(choices=FTS_LANGUAGES)

    def clean_embedding_model(self):
        model = self.cleaned_data["embedding_model"].strip()
        if model and not _MODEL_NAME.match(model):
            raise forms.ValidationError("Use letters, digits and . : / @ + - _ only.")
        return model

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("embedding_provider") == "openai_compatible":
            for name in ("embedding_model", "embedding_dimension", "embedding_base_url"):
                if not cleaned.get(name):
                    self.add_error(name, "Required for an OpenAI-compatible endpoint.")
        return cleaned

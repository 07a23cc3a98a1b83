from django.db import migrations


class Migration(migrations.Migration):
    """Anchor for the integrations app; channel and LLM provider models follow."""

    initial = True
    dependencies = []
    operations = []

from django.db import migrations
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    """pgvector, for knowledge chunk embeddings (the embedded Postgres ships it)."""

    initial = True
    dependencies = []
    operations = [VectorExtension()]

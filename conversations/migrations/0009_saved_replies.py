# Saved replies (issue #18), and escalation emails to the admins by default.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def never_chosen_means_admins(apps, schema_editor):
    # An empty list on a row no person ever saved was the old default, not a choice: make it the new
    # default (every admin). A row an admin saved keeps what they chose, empty or not.
    SidekickSettings = apps.get_model("conversations", "SidekickSettings")
    SidekickSettings.objects.filter(escalation_emails=[], updated_by__isnull=True).update(escalation_emails=None)


def admins_means_empty(apps, schema_editor):
    SidekickSettings = apps.get_model("conversations", "SidekickSettings")
    SidekickSettings.objects.filter(escalation_emails__isnull=True).update(escalation_emails=[])


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("conversations", "0008_thread_assignment"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SavedReply",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=100)),
                ("body", models.TextField(max_length=4000)),
                ("shortcut", models.SlugField(blank=True, max_length=40)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                 related_name="+", to=settings.AUTH_USER_MODEL)),
                ("updated_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                 related_name="+", to=settings.AUTH_USER_MODEL)),
                ("workspace", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                related_name="saved_replies", to="accounts.workspace")),
            ],
            options={
                "ordering": ["title", "id"],
                "constraints": [models.UniqueConstraint(condition=models.Q(("shortcut", ""), _negated=True),
                                                        fields=("workspace", "shortcut"),
                                                        name="saved_reply_shortcut_unique")],
            },
        ),
        migrations.AlterField(
            model_name="sidekicksettings",
            name="escalation_emails",
            field=models.JSONField(blank=True, default=None, null=True),
        ),
        migrations.RunPython(never_chosen_means_admins, admins_means_empty),
    ]

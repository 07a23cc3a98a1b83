"""Timed follow-up sequences: `FollowUpStep` per workspace, `FollowUpStepRun` per thread and anchor.

Existing workspaces (those with a settings row) get one step equivalent to what they had: a follow-up
`follow_up_after_hours` after the business's unanswered message, with the Human Agent tag when the
workspace allows it, and *disabled*: until this migration nothing was ever sent without a setter's
click, and an admin turns the sequence on. New workspaces get the 4 h / 20 h / 3 d defaults when their
settings row is created (`settings_rows.sidekick_settings_ensure`).
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def existing_workspaces_keep_their_behaviour(apps, schema_editor):
    SidekickSettings = apps.get_model("conversations", "SidekickSettings")
    FollowUpStep = apps.get_model("conversations", "FollowUpStep")
    have_steps = set(FollowUpStep.objects.values_list("workspace_id", flat=True))
    FollowUpStep.objects.bulk_create([
        FollowUpStep(workspace_id=cfg.workspace_id, position=1, delay_hours=max(1, cfg.follow_up_after_hours),
                     use_human_agent_tag=cfg.use_human_agent_tag, enabled=False)
        for cfg in SidekickSettings.objects.exclude(workspace_id__in=have_steps).only(
            "workspace_id", "follow_up_after_hours", "use_human_agent_tag")
    ], batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("conversations", "0009_saved_replies"),
    ]

    operations = [
        migrations.CreateModel(
            name="FollowUpStep",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveSmallIntegerField()),
                ("delay_hours", models.PositiveIntegerField()),
                ("use_human_agent_tag", models.BooleanField(default=False)),
                ("enabled", models.BooleanField(default=True)),
                ("workspace", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                related_name="follow_up_steps", to="accounts.workspace")),
            ],
            options={
                "ordering": ["workspace", "position"],
                "constraints": [models.UniqueConstraint(fields=("workspace", "position"),
                                                        name="follow_up_step_position_unique")],
            },
        ),
        migrations.CreateModel(
            name="FollowUpStepRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveSmallIntegerField()),
                ("delay_hours", models.PositiveIntegerField()),
                ("human_agent", models.BooleanField(default=False)),
                ("outcome", models.CharField(choices=[("sent", "Sent"), ("review", "Left for review"),
                                                      ("blocked", "Blocked by a rule"), ("skipped", "Skipped"),
                                                      ("stopped", "Sequence stopped"), ("pending", "Drafting")],
                                             default="pending", max_length=16)),
                ("reason_code", models.CharField(blank=True, max_length=40)),
                ("reason_text", models.CharField(blank=True, max_length=500)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("anchor_message", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                     to="conversations.message")),
                ("draft", models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                               related_name="follow_up_run", to="conversations.replydraft")),
                ("thread", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="follow_up_runs",
                                             to="conversations.thread")),
                ("workspace", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                to="accounts.workspace")),
            ],
            options={
                "ordering": ["thread", "-created_at", "-id"],
                "indexes": [models.Index(fields=["thread", "-created_at"], name="follow_up_run_thread_idx")],
                "constraints": [models.UniqueConstraint(fields=("anchor_message", "position"),
                                                        name="follow_up_run_once_per_anchor_step")],
            },
        ),
        migrations.RunPython(existing_workspaces_keep_their_behaviour, migrations.RunPython.noop),
    ]

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_password_reset_request'),
        ('assistant', '0001_initial'),
        ('changes', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AssistantSuggestion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('type', models.CharField(choices=[('reply', 'Reply'), ('follow_up', 'Follow-up message'), ('faq', 'FAQ entry'), ('prompt', 'Prompt change'), ('strategy', 'Follow-up strategy')], max_length=16)),
                ('title', models.CharField(max_length=200)),
                ('content', models.TextField()),
                ('reasoning', models.TextField(blank=True)),
                ('confidence', models.FloatField(blank=True, null=True)),
                ('target_type', models.CharField(choices=[('thread', 'Conversation'), ('contact', 'Contact'), ('knowledge', 'Knowledge base'), ('prompt', 'System prompt')], max_length=16)),
                ('target_id', models.BigIntegerField(blank=True, null=True)),
                ('payload', models.JSONField(blank=True, default=dict)),
                ('status', models.CharField(choices=[('pending', 'Suggested'), ('accepted', 'Being applied'), ('rejected', 'Rejected'), ('applied', 'Applied'), ('undone', 'Undone')], default='pending', max_length=16)),
                ('result', models.JSONField(blank=True, default=dict)),
                ('error', models.CharField(blank=True, max_length=500)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('change_set', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='changes.changeset')),
                ('message', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='suggestions', to='assistant.assistantmessage')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.workspace')),
            ],
            options={
                'ordering': ['created_at', 'id'],
                'indexes': [models.Index(fields=['workspace', 'user', '-created_at'], name='assistant_sugg_user')],
            },
        ),
    ]

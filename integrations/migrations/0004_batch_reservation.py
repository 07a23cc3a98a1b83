from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0003_merge_0002_channels_0002_llm_providers'),
    ]

    operations = [
        migrations.AddField(
            model_name='llmusage',
            name='expires_at',
            field=models.DateTimeField(blank=True, help_text='Set on a batch reservation only: it stops counting at this time.', null=True),
        ),
    ]

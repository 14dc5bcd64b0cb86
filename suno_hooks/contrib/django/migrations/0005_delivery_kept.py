from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("suno_hooks", "0004_expected_tasks")]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="kept",
            field=models.JSONField(blank=True, default=list),
        ),
    ]

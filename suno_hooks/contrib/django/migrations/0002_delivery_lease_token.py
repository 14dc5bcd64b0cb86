from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("suno_hooks", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="lease_token",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AddField(
            model_name="delivery",
            name="lease_expires",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="status",
            field=models.CharField(
                choices=[
                    ("processing", "processing"),
                    ("done", "done"),
                    ("failed", "failed"),
                    ("abandoned", "abandoned"),
                ],
                db_index=True,
                max_length=16,
            ),
        ),
    ]

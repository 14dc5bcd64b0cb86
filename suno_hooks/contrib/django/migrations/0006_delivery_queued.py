from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("suno_hooks", "0005_delivery_kept")]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="rings",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="delivery",
            name="rung_at",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "queued"),
                    ("processing", "processing"),
                    ("done", "done"),
                    ("failed", "failed"),
                    ("abandoned", "abandoned"),
                ],
                db_index=True,
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(
                    ("rung_at__isnull", False), ("status__in", ["queued", "processing"])
                ),
                fields=["received_at"],
                name="suno_hooks_handoff",
            ),
        ),
    ]

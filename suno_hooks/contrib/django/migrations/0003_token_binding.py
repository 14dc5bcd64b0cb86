from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("suno_hooks", "0002_delivery_lease_token")]

    operations = [
        migrations.CreateModel(
            name="TokenBinding",
            fields=[
                (
                    "token_id",
                    models.CharField(max_length=64, primary_key=True, serialize=False),
                ),
                ("task_id", models.CharField(max_length=128)),
                ("expires_at", models.DateTimeField(db_index=True)),
            ],
        ),
    ]

"""What the project keeps: edit requests it sent and the tracks that came back."""

from django.db import models


class EditRequest(models.Model):
    """A replace-section request whose callback URL was minted here."""

    source_task_id = models.CharField(max_length=128)
    audio_id = models.CharField(max_length=128)
    prompt = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"edit of {self.audio_id}"


class Track(models.Model):
    """A finished track as Suno described it."""

    suno_id = models.CharField(max_length=128, unique=True)
    task_id = models.CharField(max_length=128, db_index=True)
    request = models.ForeignKey(EditRequest, null=True, blank=True, on_delete=models.SET_NULL)
    title = models.CharField(max_length=300, blank=True)
    image_url = models.URLField(max_length=1000, blank=True)
    audio_url = models.URLField(max_length=1000, blank=True)
    duration = models.FloatField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-received_at", "title")

    def __str__(self) -> str:
        return self.title or self.suno_id

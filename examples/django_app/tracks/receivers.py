"""Stores completed music tracks when Suno's callback arrives (sync: runs under WSGI and, in a
worker thread, under ASGI)."""

from typing import Any

from django.dispatch import receiver

from suno_hooks import Event
from suno_hooks.contrib.django.signals import task_completed

from .models import EditRequest, Track


@receiver(task_completed, dispatch_uid="tracks.save_tracks")
def save_tracks(sender: Any, event: Event, **kwargs: Any) -> None:
    """Keep every track of a completed music task, linked to the request that minted its URL."""
    if event.kind != "music":
        return
    request_id = (event.context or {}).get("request")
    request = EditRequest.objects.filter(pk=request_id).first() if request_id else None
    for track in event.tracks:
        Track.objects.create(
            suno_id=track.id,
            task_id=event.task_id,
            request=request,
            title=track.title or "",
            image_url=track.image_url or "",
            audio_url=track.audio_url or "",
            duration=track.duration,
        )

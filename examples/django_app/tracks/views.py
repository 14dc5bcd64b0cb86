"""Pages: the finished tracks, and a simulated replace-section request with its callback URL."""

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from suno_hooks.contrib.django.conf import callback_url

from .models import EditRequest, Track


def track_list(request: HttpRequest) -> HttpResponse:
    """Every stored track: title, cover and a player."""
    return render(request, "tracks/index.html", {"tracks": Track.objects.all()})


def replace_section(request: HttpRequest) -> HttpResponse:
    """POST: record an edit request and show the body to send to
    `POST /api/v1/generate/replace-section`, with a signed `callBackUrl` for it."""
    payload = None
    if request.method == "POST":
        edit = EditRequest.objects.create(
            source_task_id=request.POST.get("task_id", ""),
            audio_id=request.POST.get("audio_id", ""),
            prompt=request.POST.get("prompt", ""),
        )
        payload = {
            "taskId": edit.source_task_id,
            "audioId": edit.audio_id,
            "prompt": edit.prompt,
            "tags": request.POST.get("tags", ""),
            "title": request.POST.get("title", ""),
            "fullLyrics": request.POST.get("full_lyrics", ""),
            "infillStartS": 10.0,
            "infillEndS": 20.0,
            "callBackUrl": callback_url(
                request, context={"request": edit.pk}, feature="replace_section"
            ),
        }
    body = json.dumps(payload, indent=2) if payload else None
    return render(request, "tracks/replace_section.html", {"payload": body})

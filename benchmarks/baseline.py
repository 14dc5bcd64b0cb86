"""The hand-written baseline every benchmark compares against: a pydantic model of a music
callback equivalent to what suno-hooks parses, validated with `model_validate_json`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class BaselineTrack(BaseModel):
    """A track, with the fields `suno_hooks.Track` types."""

    id: str | None = None
    audio_url: str | None = None
    stream_audio_url: str | None = None
    image_url: str | None = None
    prompt: str | None = None
    model_name: str | None = None
    title: str | None = None
    tags: str | None = None
    createTime: datetime | None = None  # noqa: N815 (the wire name)
    duration: float | None = None


class BaselineData(BaseModel):
    """The callback's `data` object."""

    callbackType: str  # noqa: N815 (the wire name)
    task_id: str
    data: list[BaselineTrack] | None = None


class BaselineCallback(BaseModel):
    """A music callback body."""

    code: int
    msg: str
    data: BaselineData

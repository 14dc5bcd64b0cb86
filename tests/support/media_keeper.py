"""A process that keeps one track's audio in a directory, to be killed mid-download by
`tests/test_media_kill.py`: `python -m tests.media_keeper DIRECTORY URL`."""

from __future__ import annotations

import sys

from suno_hooks.media import MediaArchive

from .media_helpers import LOCAL, event_of, music_body


def main(directory: str, url: str) -> None:
    archive = MediaArchive(directory, **LOCAL)
    archive.keep(event_of(music_body("killed", [{"id": "song", "audio_url": url}])))
    print("kept", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""Take the inbox guide's two screenshots (the list; a delivery with players) in headless
Chromium, from a demo inbox whose cover and audio are served locally.

    .venv-3.13/bin/python docs/screenshots.py   # docs/inbox-list.png, docs/inbox-delivery.png
"""

from __future__ import annotations

import io
import math
import struct
import sys
import tempfile
import wave
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from suno_hooks import Receiver  # noqa: E402
from suno_hooks.inbox import inbox_wsgi_app  # noqa: E402
from suno_hooks.stores import MemoryStore  # noqa: E402
from suno_hooks.testing import make_callback  # noqa: E402
from tests.support.browser import CHROMEDRIVER, CHROMIUM, FLAGS, wsgi_server  # noqa: E402
from tests.support.inbox_helpers import deliver, failing_handler, song  # noqa: E402


def cover_png(size: int = 160) -> bytes:
    """A small gradient cover image."""
    rows = b"".join(
        b"\x00" + bytes(c for x in range(size) for c in (40 + x // 2, 60 + y // 3, 160 - x // 3))
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))


def tone_wav(seconds: float = 3.0, rate: int = 8000) -> bytes:
    """A short sine tone."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        frames = (
            int(8000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(int(seconds * rate))
        )
        wav.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return out.getvalue()


MEDIA = {
    "/media/cover.png": ("image/png", cover_png()),
    "/media/song.wav": ("audio/wav", tone_wav()),
}


def with_media(app: Any) -> Any:
    """The inbox app, plus the demo's cover and audio at /media/."""

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        found = MEDIA.get(environ.get("PATH_INFO", ""))
        if found is None:
            return app(environ, start_response)
        start_response(
            "200 OK", [("Content-Type", found[0]), ("Content-Length", str(len(found[1])))]
        )
        return [found[1]]

    return serve


def main() -> None:
    receiver = Receiver(store=MemoryStore(), require="none")
    with wsgi_server(with_media(inbox_wsgi_app(receiver))) as base:
        media = {"audio_url": f"{base}/media/song.wav", "image_url": f"{base}/media/cover.png"}
        for kind, stage in (
            ("wav", "complete"),
            ("stems", "complete"),
            ("lyrics", "complete"),
            ("video", "error"),
        ):
            deliver(receiver, make_callback(kind, stage))
        deliver(receiver, make_callback("music", "first"))
        with failing_handler(receiver):
            deliver(receiver, song("Harbor Lights", **media))
        shown = deliver(receiver, song("Midnight Ferry", **media))
        deliver(receiver, make_callback("music", "text"))
        assert shown.delivery is not None

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        profile = tempfile.mkdtemp(prefix="suno-inbox-shots-")
        for flag in (
            *FLAGS,
            "--window-size=1100,700",
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
        ):
            options.add_argument(flag)
        browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            browser.get(base + "/")
            browser.save_screenshot(str(ROOT / "docs" / "inbox-list.png"))
            browser.get(base + "/delivery?key=" + shown.delivery.key)
            browser.find_element(By.CSS_SELECTOR, "details summary").click()
            browser.execute_script("window.scrollTo(0, 0)")
            browser.save_screenshot(str(ROOT / "docs" / "inbox-delivery.png"))
        finally:
            browser.quit()


if __name__ == "__main__":
    main()

"""The safe streaming fetcher: follows redirects by hand (each hop checked again), connects to
the checked address with the original host name for TLS, and yields the body in chunks while
counting it against the size cap and the file's deadline."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from .errors import MediaError, MediaRefused, MediaTooLarge
from .kept import shown_url
from .policy import Destination, MediaPolicy

__all__ = ["MAX_REDIRECTS", "Download", "MediaFetcher", "MediaTimeouts", "shown_url"]

MAX_REDIRECTS = 3
_REDIRECTS = (301, 302, 303, 307, 308)
_USER_AGENT = "suno-hooks-media"


@dataclass(frozen=True, slots=True)
class MediaTimeouts:
    """Seconds allowed: to connect, between two reads, and for the whole file (every try and
    the waits between them)."""

    connect: float = 5.0
    read: float = 30.0
    total: float = 600.0


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def _answer_error(response: httpx.Response, url: str) -> MediaError:
    status = response.status_code
    retryable = status == 429 or status >= 500
    if status in (403, 404, 410):
        detail = f"{status}: the file is gone or its link has expired ({shown_url(url)})"
    else:
        detail = f"{status} from {shown_url(url)}"
    error = MediaError(detail, retryable=retryable, status=status)
    error.retry_after = _retry_after(response) if retryable else None
    return error


@dataclass
class Download:
    """An answered GET of a media file: its content type and its body, in chunks."""

    response: httpx.Response
    url: str
    max_bytes: int
    deadline: float

    @property
    def content_type(self) -> str | None:
        """The answer's media type without parameters, or None when it gave none."""
        value = self.response.headers.get("content-type", "").split(";", 1)[0].strip()
        return value.lower() or None

    def chunks(self) -> Iterator[bytes]:
        """The body in chunks; raise `MediaTooLarge` at the cap and a retryable `MediaError`
        when the connection fails, a read times out or the file's deadline passes."""
        size = 0
        try:
            for chunk in self.response.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise MediaTooLarge(
                        f"larger than the cap of {self.max_bytes} bytes ({shown_url(self.url)})"
                    )
                if time.monotonic() > self.deadline:
                    raise MediaError("the file's time ran out", retryable=True)
                yield chunk
        except httpx.TimeoutException:
            raise MediaError("a read timed out", retryable=True) from None
        except httpx.TransportError as exc:
            raise MediaError(
                f"the connection failed: {type(exc).__name__}", retryable=True
            ) from None


class MediaFetcher:
    """Opens media URLs under a `MediaPolicy` with one shared HTTP client (no proxy from the
    environment, no automatic redirect)."""

    def __init__(
        self,
        policy: MediaPolicy,
        *,
        max_bytes: int,
        timeouts: MediaTimeouts,
        client: httpx.Client | None = None,
    ) -> None:
        self.policy = policy
        self.max_bytes = max_bytes
        self.timeouts = timeouts
        self.client = client or httpx.Client(trust_env=False, follow_redirects=False)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def _send(self, destination: Destination, deadline: float) -> httpx.Response:
        left = max(deadline - time.monotonic(), 0.001)
        connect = min(self.timeouts.connect, left)
        timeout = {"connect": connect, "read": min(self.timeouts.read, left)}
        timeout |= {"write": connect, "pool": connect}
        request = self.client.build_request(
            "GET",
            destination.request_url,
            headers={
                "Host": destination.host_header,
                "Accept-Encoding": "identity",
                "User-Agent": _USER_AGENT,
                # The pool knows connections by address alone: one verified for another host
                # name on the same address must not carry this request.
                "Connection": "close",
            },
            # The connection goes to the checked address; TLS still names the host, so SNI
            # and the certificate check are against the name, not the address.
            extensions={"sni_hostname": destination.host, "timeout": timeout},
        )
        try:
            return self.client.send(request, stream=True)
        except httpx.TimeoutException:
            raise MediaError("the request timed out", retryable=True) from None
        except httpx.TransportError as exc:
            detail = f"{type(exc).__name__} reaching {destination.host}: {str(exc)[:200]}"
            raise MediaError(detail, retryable=True) from None

    @contextlib.contextmanager
    def open(self, url: str, deadline: float) -> Iterator[Download]:
        """An answered GET of `url` (redirects followed by hand and checked again, at most
        `MAX_REDIRECTS`); raise `MediaRefused` before sending anything the policy forbids and
        `MediaError` for an answer that is not the file."""
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            destination = self.policy.destination(current)
            response = self._send(destination, deadline)
            try:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise _answer_error(response, current)
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > self.max_bytes:
                    raise MediaTooLarge(
                        f"announced {length} bytes, over the cap of {self.max_bytes}"
                        f" ({shown_url(current)})"
                    )
                yield Download(response, current, self.max_bytes, deadline)
                return
            finally:
                response.close()
        raise MediaRefused(f"more than {MAX_REDIRECTS} redirects from {shown_url(url)}")

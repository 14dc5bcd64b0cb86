"""Which media URLs may be fetched, and where to connect for them: https only, listed hosts
only, and every resolved address global once IPv4-mapped, IPv4-compatible, 6to4, Teredo and
NAT64 forms are unwrapped, unless the archive allows plain http or private addresses for a
named host (a local sandbox)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import MediaRefused

__all__ = [
    "KIE_MEDIA_HOSTS",
    "Destination",
    "MediaPolicy",
    "is_public_address",
    "unwrapped_addresses",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

KIE_MEDIA_HOSTS: tuple[str, ...] = (
    "tempfile.aiquickdraw.com",
    "file.aiquickdraw.com",
    "musicfile.api.box",
    "apiboxfiles.erweima.ai",
    "mfile.erweima.ai",
    "cdn1.suno.ai",
    "cdn2.suno.ai",
    "audiopipe.suno.ai",
)
"""The hosts Kie's callbacks name for generated files (tracks, covers, video, WAV, stems)."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_MAX_URL = 4096


def unwrapped_addresses(address: IPAddress) -> Iterator[IPAddress]:
    """`address` and every IPv4 address it carries: IPv4-mapped (`::ffff:a.b.c.d`),
    IPv4-compatible (`::a.b.c.d`), 6to4 (`2002::/16`), Teredo (server and client) and NAT64
    (`64:ff9b::/96`)."""
    yield address
    if not isinstance(address, ipaddress.IPv6Address):
        return
    if address.ipv4_mapped is not None:
        yield address.ipv4_mapped
    if address.sixtofour is not None:
        yield address.sixtofour
    if address.teredo is not None:
        yield from address.teredo
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 0xFFFF):
        yield ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def is_public_address(address: IPAddress) -> bool:
    """True when `address`, and every IPv4 address it wraps, is globally routable unicast: no
    loopback, private, shared (100.64/10), link-local (cloud metadata), multicast, reserved or
    unspecified address."""
    for candidate in unwrapped_addresses(address):
        if not candidate.is_global or candidate.is_multicast or candidate.is_reserved:
            return False
        if candidate.is_link_local or candidate.is_loopback or candidate.is_unspecified:
            return False
    return True


def _system_resolver(host: str, port: int) -> list[str]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise MediaRefused(f"{host} does not resolve ({exc})", retryable=True) from None
    return [str(info[4][0]) for info in found]


def _names(hosts: Iterable[str]) -> frozenset[str]:
    return frozenset(host.strip().lower().rstrip(".") for host in hosts if host.strip())


def _permits(setting: bool | frozenset[str], host: str) -> bool:
    return setting is True or (isinstance(setting, frozenset) and host in setting)


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked URL: its host name (for the Host header, SNI and the certificate check), the
    address to connect to, and the URL to request (the address in place of the host)."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    request_url: str

    @property
    def host_header(self) -> str:
        """The Host header: the name, with the port when it is not the scheme's default."""
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


class MediaPolicy:
    """Decides whether a media URL may be fetched and which checked address to connect to.

    `allowed_hosts` are exact host names or `*.example.com` patterns. `allow_http` and
    `allow_private` are True (every allowed host) or a collection of host names (those hosts
    only), for a local server such as the sandbox."""

    def __init__(
        self,
        allowed_hosts: Iterable[str] = KIE_MEDIA_HOSTS,
        *,
        allow_http: bool | Collection[str] = False,
        allow_private: bool | Collection[str] = False,
        resolver: Resolver | None = None,
    ) -> None:
        if isinstance(allowed_hosts, str):
            allowed_hosts = [allowed_hosts]
        names = _names(allowed_hosts)
        self.hosts = frozenset(name for name in names if not name.startswith("*."))
        self.suffixes = tuple(name[1:] for name in names if name.startswith("*."))
        self.allow_http = allow_http if isinstance(allow_http, bool) else _names(allow_http)
        self.allow_private = (
            allow_private if isinstance(allow_private, bool) else _names(allow_private)
        )
        self.resolver = resolver or _system_resolver

    def __repr__(self) -> str:
        return f"MediaPolicy(hosts={sorted(self.hosts) + [f'*{s}' for s in self.suffixes]})"

    def allows_host(self, host: str) -> bool:
        """True when `host` is listed or matches a `*.` pattern."""
        return host in self.hosts or any(
            host.endswith(suffix) and len(host) > len(suffix) for suffix in self.suffixes
        )

    def check_url(self, url: str) -> tuple[str, str, int]:
        """The scheme, host and port of `url` when the policy allows its form (no DNS look-up);
        raise `MediaRefused` otherwise."""
        if not isinstance(url, str) or not url or len(url) > _MAX_URL:
            raise MediaRefused("not a URL")
        if any(ord(char) <= 32 or ord(char) == 127 or char == "\\" for char in url):
            raise MediaRefused("the URL holds spaces, control characters or backslashes")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise MediaRefused("the URL cannot be parsed") from None
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        if not host or not host.isascii():
            raise MediaRefused("the URL has no ASCII host name")
        if "@" in parts.netloc:
            raise MediaRefused("the URL carries credentials")
        if scheme != "https" and not (scheme == "http" and _permits(self.allow_http, host)):
            raise MediaRefused(f"{scheme or 'a missing'} scheme is not allowed for {host}")
        if not self.allows_host(host):
            raise MediaRefused(f"{host} is not an allowed media host")
        return scheme, host, port or (443 if scheme == "https" else 80)

    def check_address(self, host: str, address: str) -> IPAddress:
        """The address as an object when it may be connected to for `host`; raise otherwise."""
        try:
            parsed = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise MediaRefused(f"{host} resolved to something that is not an address") from None
        if not is_public_address(parsed) and not _permits(self.allow_private, host):
            raise MediaRefused(f"{host} resolves to a non-public address ({parsed})")
        return parsed

    def destination(self, url: str) -> Destination:
        """Check `url` and every address its host resolves to; the place to connect to.
        Raise `MediaRefused` when anything is not allowed (before any request is sent)."""
        scheme, host, port = self.check_url(url)
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        addresses = [str(literal)] if literal is not None else self.resolver(host, port)
        if not addresses:
            raise MediaRefused(f"{host} resolved to no address", retryable=True)
        checked = [self.check_address(host, address) for address in addresses]
        chosen = checked[0]
        shown = f"[{chosen}]" if chosen.version == 6 else str(chosen)
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        return Destination(
            url, scheme, host, port, str(chosen), f"{scheme}://{shown}:{port}{target}"
        )

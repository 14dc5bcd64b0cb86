"""IP allow-list for callback senders, with a configurable number of trusted proxy hops."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

__all__ = ["SourceFilter"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SourceFilter:
    """Decides whether a request comes from an allowed address.

    With `trusted_proxies=N` the client is the N-th address from the right of
    `X-Forwarded-For` (the one your N proxies saw), as werkzeug's ProxyFix counts hops.
    """

    def __init__(self, allowed: Iterable[str], *, trusted_proxies: int = 0) -> None:
        self.networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(item.strip(), strict=False) for item in allowed
        )
        if trusted_proxies < 0:
            raise ValueError("trusted_proxies cannot be negative.")
        self.trusted_proxies = trusted_proxies

    def client_address(self, peer: str | None, headers: Mapping[str, str]) -> str | None:
        """The address to check: the peer, or the forwarded one behind trusted proxies."""
        if self.trusted_proxies:
            forwarded = [p.strip() for p in headers.get("x-forwarded-for", "").split(",")]
            forwarded = [p for p in forwarded if p]
            if len(forwarded) >= self.trusted_proxies:
                return forwarded[-self.trusted_proxies]
            return None
        return peer

    def allows(self, peer: str | None, headers: Mapping[str, str]) -> bool:
        """True when the client address is inside one of the allowed networks; an IPv4-mapped
        IPv6 address (`::ffff:203.0.113.7`, as dual-stack servers report IPv4 peers) is
        matched as the IPv4 address it carries, and the other way round."""
        address = self.client_address(peer, headers)
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address):
            mapped = ip.ipv4_mapped
            forms: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = (
                (ip,) if mapped is None else (ip, mapped)
            )
        else:
            forms = (ip, ipaddress.IPv6Address(f"::ffff:{ip}"))
        return any(form in network for form in forms for network in self.networks)

"""The media URL and address policy: refusals happen before any request is sent, and no
wrapped form of a private address gets through."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suno_hooks.media import (
    KIE_MEDIA_HOSTS,
    MediaArchive,
    MediaPolicy,
    MediaRefused,
    is_public_address,
)
from suno_hooks.media.errors import KeepFailed
from suno_hooks.media.policy import unwrapped_addresses

from ..support.media_helpers import event_of, media_server, music_body

PRIVATE_V4 = [
    ipaddress.IPv4Network(net)
    for net in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "0.0.0.0/8",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]


def _in(network: ipaddress.IPv4Network) -> st.SearchStrategy[ipaddress.IPv4Address]:
    first = int(network.network_address)
    return st.integers(first, first + network.num_addresses - 1).map(ipaddress.IPv4Address)


private_v4 = st.one_of(*[_in(net) for net in PRIVATE_V4])


def wrapped_forms(v4: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    value = int(v4)
    return [
        ipaddress.IPv6Address(0xFFFF << 32 | value),  # ::ffff:a.b.c.d
        ipaddress.IPv6Address(0x2002 << 112 | value << 80),  # 6to4
        ipaddress.IPv6Address(0x64FF9B << 96 | value),  # NAT64
        ipaddress.IPv6Address(value),  # IPv4-compatible
        ipaddress.IPv6Address(0x20010000 << 96 | (value ^ 0xFFFFFFFF)),  # Teredo client
    ]


@given(private_v4)
def test_no_wrapped_form_of_a_private_address_is_public(address: ipaddress.IPv4Address) -> None:
    assert not is_public_address(address)
    for wrapped in wrapped_forms(address):
        # `::` and `::1` are themselves unspecified and loopback: they carry no IPv4.
        assert int(wrapped) <= 0xFFFF or address in list(unwrapped_addresses(wrapped))
        assert not is_public_address(wrapped), wrapped


@given(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address))
def test_a_wrapped_address_is_public_only_when_its_ipv4_is(address: ipaddress.IPv4Address) -> None:
    for wrapped in wrapped_forms(address):
        if is_public_address(wrapped):
            assert is_public_address(address)
    if is_public_address(address):
        assert address.is_global


@given(st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address))
def test_a_public_ipv6_address_carries_no_private_ipv4(address: ipaddress.IPv6Address) -> None:
    if is_public_address(address):
        assert all(candidate.is_global for candidate in unwrapped_addresses(address))


@given(st.text(max_size=300))
def test_any_text_is_refused_or_an_allowed_https_host(text: str) -> None:
    policy = MediaPolicy()
    try:
        scheme, host, port = policy.check_url(text)
    except MediaRefused:
        return
    assert scheme == "https" and host in KIE_MEDIA_HOSTS and 0 <= port < 65536


@given(
    st.sampled_from(KIE_MEDIA_HOSTS),
    st.from_regex(r"/[A-Za-z0-9_./-]{0,40}", fullmatch=True),
    st.sampled_from(["http", "ftp", "file", "javascript", "HTTP"]),
)
def test_a_listed_host_is_refused_over_anything_but_https(
    host: str, path: str, scheme: str
) -> None:
    policy = MediaPolicy()
    assert policy.check_url(f"https://{host}{path}")[1] == host
    with pytest.raises(MediaRefused):
        policy.check_url(f"{scheme}://{host}{path}")


@given(st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z0-9-]{1,10}){0,3}", fullmatch=True))
def test_only_listed_hosts_and_their_patterns_pass(host: str) -> None:
    policy = MediaPolicy(["media.example.com", "*.cdn.example.net"])
    allowed = host == "media.example.com" or host.endswith(".cdn.example.net")
    assert policy.allows_host(host) == allowed
    assert policy.allows_host(f"x.{host}.cdn.example.net")


def test_tricky_urls_are_refused() -> None:
    policy = MediaPolicy()
    for url in (
        "https://tempfile.aiquickdraw.com@169.254.169.254/x",
        "https://user:pw@tempfile.aiquickdraw.com/x",
        "https://tempfile.aiquickdraw.com.evil.example/x",
        "https://evil.example/tempfile.aiquickdraw.com",
        "https://tempfile.aiquickdraw.com:99999/x",
        "https://tempfile.aiquickdraw.com\\@evil.example/x",
        "https://temp file.aiquickdraw.com/x",
        "//tempfile.aiquickdraw.com/x",
        "",
    ):
        with pytest.raises(MediaRefused):
            policy.check_url(url)


def test_every_resolved_address_must_be_public() -> None:
    answers = {"tempfile.aiquickdraw.com": ["93.184.216.34", "10.1.2.3"]}
    policy = MediaPolicy(resolver=lambda host, port: answers[host])
    with pytest.raises(MediaRefused, match="non-public"):
        policy.destination("https://tempfile.aiquickdraw.com/a.mp3")
    answers["tempfile.aiquickdraw.com"] = ["93.184.216.34", "2606:2800:220:1::1"]
    destination = policy.destination("https://tempfile.aiquickdraw.com/a.mp3?sig=1")
    assert destination.address == "93.184.216.34"
    assert destination.request_url == "https://93.184.216.34:443/a.mp3?sig=1"
    assert destination.host_header == "tempfile.aiquickdraw.com"


def _refused(tmp_path: Path, url: str, **options: object) -> KeepFailed:
    archive = MediaArchive(tmp_path / "kept", **options)  # type: ignore[arg-type]
    event = event_of(music_body("policy-task", [{"id": "t1", "audio_url": url}]))
    with pytest.raises(KeepFailed) as caught:
        archive.keep(event)
    archive.close()
    assert isinstance(caught.value.failures["t1.mp3"], MediaRefused)
    assert not (tmp_path / "kept").exists() or not any((tmp_path / "kept").rglob("*.mp3"))
    return caught.value


def test_refusals_send_no_request(tmp_path: Path) -> None:
    with media_server() as server:
        port = server.url.rsplit(":", 1)[1]
        local = f"127.0.0.1:{port}"
        # A host outside the list, even with everything else allowed.
        _refused(tmp_path, f"{server.url}/files/a.mp3", allow_http=True, allow_private=True)
        # Plain http to a listed host.
        _refused(
            tmp_path,
            f"{server.url}/files/a.mp3",
            allowed_hosts=["127.0.0.1"],
            allow_private=True,
        )
        # Loopback, with the scheme and the host allowed.
        _refused(
            tmp_path, f"http://{local}/files/a.mp3", allowed_hosts=["127.0.0.1"], allow_http=True
        )
        # A redirect to a private address: the first hop is fetched, the second never.
        target = f"http://127.0.0.1:{port}/files/a.mp3"
        refused = _refused(
            tmp_path,
            f"http://localhost:{port}/redirect?to={target}",
            allowed_hosts=["localhost", "127.0.0.1"],
            allow_http=True,
            allow_private=["localhost"],
        )
        assert "non-public" in str(refused)
        assert server.requests == {"/redirect": 1}
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:10.0.0.1]/a.mp3",
        "https://[::ffff:a00:1]/a.mp3",
        "https://[64:ff9b::a9fe:a9fe]/a.mp3",
        "https://127.0.0.1/a.mp3",
    ):
        hosts = ["169.254.169.254", "::ffff:10.0.0.1", "::ffff:a00:1", "64:ff9b::a9fe:a9fe"]
        _refused(tmp_path, url, allowed_hosts=[*hosts, "127.0.0.1"], allow_http=True)


def test_the_connection_goes_to_the_checked_address_with_the_name(tmp_path: Path) -> None:
    with media_server() as server:
        port = int(server.url.rsplit(":", 1)[1])
        looked_up: list[tuple[str, int]] = []

        def resolver(host: str, port: int) -> list[str]:
            looked_up.append((host, port))
            return ["127.0.0.1"]

        archive = MediaArchive(
            tmp_path,
            allowed_hosts=["media.test"],
            allow_http=["media.test"],
            allow_private=["media.test"],
            resolver=resolver,
        )
        url = f"http://media.test:{port}/files/a.mp3"
        kept = archive.keep(event_of(music_body("named", [{"id": "t1", "audio_url": url}])))
        archive.close()
    assert looked_up == [("media.test", port)]
    assert [record.name for record in kept] == ["t1.mp3"]
    assert server.headers[0]["host"] == f"media.test:{port}"

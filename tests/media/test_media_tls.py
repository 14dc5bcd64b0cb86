"""TLS to the checked address: the archive connects to the address it checked, while SNI and
the certificate check use the URL's host name (a real TLS server on 127.0.0.1 with a
certificate for `media.test` from a test authority)."""

from __future__ import annotations

import datetime
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from suno_hooks.media import KeepFailed, MediaArchive

from ..support.media_helpers import event_of, file_bytes, music_body
from ..support.services import free_port


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _certificate(
    subject: str, issuer: str, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, ssl.SSLContext]]:
    """A TLS media server on 127.0.0.1 whose certificate names only `media.test`; its port and
    a client context that trusts the test authority."""
    folder: Path = tmp_path_factory.mktemp("tls")
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority = (
        _certificate("suno-hooks test authority", "suno-hooks test authority", authority_key,
                     authority_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(authority_key.public_key()),
                       critical=False)
        .sign(authority_key, hashes.SHA256())
    )  # fmt: skip
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        _certificate("media.test", "suno-hooks test authority", server_key, authority_key)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("media.test")]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()),
            critical=False,
        )
        .sign(authority_key, hashes.SHA256())
    )
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(_pem(server_key))

    async def serve(request: Request) -> Response:
        name = request.url.path.rsplit("/", 1)[-1]
        return Response(file_bytes(name, 5000), media_type="audio/mpeg")

    port = free_port()
    config = uvicorn.Config(
        Starlette(routes=[Route("/{path:path}", serve)]),
        host="127.0.0.1",
        port=port,
        log_level="error",
        ssl_certfile=str(folder / "server.pem"),
        ssl_keyfile=str(folder / "server.key"),
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the TLS server did not start"
        thread.join(0.01)
    context = ssl.create_default_context(
        cadata=authority.public_bytes(serialization.Encoding.PEM).decode()
    )
    yield port, context
    running.should_exit = True
    thread.join(15)


def archive(
    tmp_path: Path, context: ssl.SSLContext, host: str, looked_up: list[str] | None = None
) -> MediaArchive:
    def resolver(name: str, port: int) -> list[str]:
        (looked_up if looked_up is not None else []).append(name)
        return ["127.0.0.1"]

    return MediaArchive(
        tmp_path,
        allowed_hosts=[host],
        allow_private=[host],
        resolver=resolver,
        client=httpx.Client(verify=context, trust_env=False),
        tries=1,
    )


def test_tls_names_the_host_while_connecting_to_the_checked_address(
    tmp_path: Path, tls: tuple[int, ssl.SSLContext]
) -> None:
    port, context = tls
    looked_up: list[str] = []
    kept_by = archive(tmp_path, context, "media.test", looked_up)
    url = f"https://media.test:{port}/files/song.mp3"
    (record,) = kept_by.keep(event_of(music_body("tls", [{"id": "s", "audio_url": url}])))
    kept_by.close()
    assert Path(record.location).read_bytes() == file_bytes("song.mp3", 5000)
    assert looked_up == ["media.test"]  # the name was resolved once; 127.0.0.1 was dialled


def test_a_certificate_for_another_name_is_refused_even_on_a_shared_address(
    tmp_path: Path, tls: tuple[int, ssl.SSLContext]
) -> None:
    port, context = tls
    kept_by = MediaArchive(
        tmp_path,
        allowed_hosts=["media.test", "other.test"],
        allow_private=True,
        resolver=lambda name, port: ["127.0.0.1"],
        client=httpx.Client(verify=context, trust_env=False),
        tries=1,
    )
    tracks = [
        {"id": "good", "audio_url": f"https://media.test:{port}/files/good.mp3"},
        # Same address and port: a connection verified for media.test must not be reused.
        {"id": "bad", "audio_url": f"https://other.test:{port}/files/bad.mp3"},
    ]
    with pytest.raises(KeepFailed, match="certificate verify failed") as caught:
        kept_by.keep(event_of(music_body("tls-shared", tracks)))
    kept_by.close()
    assert [record.name for record in caught.value.kept] == ["good.mp3"]
    assert list(caught.value.failures) == ["bad.mp3"]
    assert not any(tmp_path.rglob("bad.mp3"))

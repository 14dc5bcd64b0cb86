"""`suno-hooks serve`: the standalone receiver under uvicorn; the receiver logs one line per
callback."""

from __future__ import annotations

import logging
import os
import socket

import click

from .._pipeline.queued import DEFAULT_SWEEP_AFTER
from ..asgi import ASGIApp, SunoHooksASGIMiddleware, asgi_app
from ..stores.redaction import redacted_url
from .options import (
    build_receiver,
    hmac_key_option,
    hmac_keys_or_env,
    import_handlers,
    log_level_option,
    needs,
    secret_key_option,
    store_option,
)
from .page import inbox_options, is_loopback, with_inbox
from .tasks import AFTER_HELP, BASE_URL_ENV, BASE_URL_HELP, start_reconciler, sweep_after_option

log = logging.getLogger("suno_hooks.serve")

_UNVERIFIED = (
    ": UNVERIFIED, every callback is accepted, forged ones included (loopback only; "
    "set SUNO_HOOKS_HMAC_KEYS or --hmac-key to verify)"
)


def _refusal(host: str) -> str:
    """Why serve will not accept unverified callbacks on `host`."""
    return (
        f"Refusing to accept unverified callbacks on {host}: give Kie's webhookHmacKey "
        "(--hmac-key or $SUNO_HOOKS_HMAC_KEYS) or a --secret-key, or listen on 127.0.0.1."
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--path", default="/suno/callback", show_default=True, help="Callback path.")
@store_option
@hmac_key_option
@secret_key_option
@click.option("--handlers", help="Module to import that connects your signal receivers.")
@click.option("--reconcile", is_flag=True, help="Also poll late tasks ($SUNO_API_KEY).")
@click.option("--base-url", envvar=BASE_URL_ENV, help=f"{BASE_URL_HELP} For --reconcile.")
@click.option(
    "--reconcile-after", default=600.0, show_default=True, help=f"{AFTER_HELP} For --reconcile."
)
@sweep_after_option(" For --reconcile.")
@log_level_option
@inbox_options
def serve(
    host: str,
    port: int,
    path: str,
    store: str,
    hmac_keys: tuple[str, ...],
    secret_key: str | None,
    handlers: str | None,
    log_level: str,
    no_inbox: bool,
    inbox_auth: str | None,
    reconcile: bool = False,
    base_url: str | None = None,
    reconcile_after: float = 600.0,
    sweep_after: float = DEFAULT_SWEEP_AFTER,
) -> None:
    """Run a standalone receiver with a SQLite inbox (one log line per callback) and the inbox
    page at / (loopback only unless --inbox-auth is set). Without a key it accepts callbacks
    unverified, on a loopback host only.

    \b
    Example:
      SUNO_HOOKS_HMAC_KEYS=whk_... suno-hooks serve --port 8000
      # then give Suno http(s)://<public host>:8000/suno/callback as callBackUrl
    """
    with needs("cli"):
        import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    import_handlers(handlers)
    keys = hmac_keys_or_env(hmac_keys)
    unverified = not keys and not secret_key and not os.environ.get("SUNO_HOOKS_REQUIRE")
    if unverified and not is_loopback(host):
        raise click.UsageError(_refusal(host))
    receiver = build_receiver(
        hmac_keys=keys, secret_key=secret_key, store=store, require="none" if unverified else None
    )
    if receiver.require == "none" and not is_loopback(host):
        raise click.UsageError(_refusal(host))
    app: ASGIApp = asgi_app(receiver, path=path)
    if not no_inbox:
        app = with_inbox(
            lambda page: SunoHooksASGIMiddleware(page, receiver, path=path),
            receiver,
            host=host,
            auth=inbox_auth,
            fallback=app,
        )
    listening = listen(host, port)
    if not no_inbox:
        log.info("suno-hooks inbox page at http://%s:%d/", host, port)
    if handlers is None:
        log.info(
            "no --handlers: completed and failed callbacks are kept as failed (no_receiver) "
            "until `suno-hooks replay --handlers MODULE` runs them"
        )
    log.log(
        logging.WARNING if receiver.require == "none" else logging.INFO,
        "suno-hooks receiving at http://%s:%d%s (store %s, require %s)%s",
        host,
        port,
        path,
        redacted_url(store),
        receiver.require,
        _UNVERIFIED if receiver.require == "none" else "",
    )
    halt = None
    if reconcile:
        halt = start_reconciler(
            receiver, after=reconcile_after, base_url=base_url, sweep_after=sweep_after
        )
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=30)
    uvicorn.Server(config).run(sockets=[listening])
    if halt is not None:
        halt()


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, so a port in use is reported before anything is served."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as exc:
        listening.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    listening.listen(2048)
    listening.set_inheritable(True)
    return listening

"""`suno-hooks serve`: the standalone receiver under uvicorn, one log line per callback."""

from __future__ import annotations

import logging

import click

from ..asgi import ASGIApp, Scope, SunoHooksASGIMiddleware, asgi_app
from ..outcome import Outcome
from .options import (
    build_receiver,
    hmac_key_option,
    hmac_keys_or_env,
    import_handlers,
    log_level_option,
    secret_key_option,
    store_option,
)
from .page import inbox_options, with_inbox
from .tasks import start_reconciler

log = logging.getLogger("suno_hooks.serve")


def describe(outcome: Outcome, peer: str | None) -> str:
    """One readable line: task, kind, stage, status, tracks, and the answer given."""
    answer = outcome.body.get("status") or outcome.body.get("error")
    delivery = outcome.delivery
    if delivery is None:
        return f"{outcome.status} {answer} peer={peer or '-'}"
    event = outcome.event
    parts = [
        f"{outcome.status} {answer}",
        f"task={delivery.task_id}",
        f"kind={delivery.kind}",
        f"stage={delivery.stage}",
    ]
    if event is not None:
        parts += [f"status={event.status}", f"tracks={len(event.tracks)}"]
    return " ".join(parts)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--path", default="/suno/callback", show_default=True, help="Callback path.")
@store_option
@hmac_key_option
@secret_key_option
@click.option("--handlers", help="Module to import that connects your signal receivers.")
@click.option("--reconcile", is_flag=True, help="Also poll late tasks ($SUNO_API_KEY).")
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
) -> None:
    """Run a standalone receiver with a SQLite inbox (one log line per callback) and the inbox
    page at / (loopback only unless --inbox-auth is set).

    \b
    Example:
      SUNO_HOOKS_HMAC_KEYS=whk_... suno-hooks serve --port 8000
      # then give Suno http(s)://<public host>:8000/suno/callback as callBackUrl
    """
    import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    import_handlers(handlers)
    receiver = build_receiver(
        hmac_keys=hmac_keys_or_env(hmac_keys), secret_key=secret_key, store=store
    )

    def on_outcome(scope: Scope, outcome: Outcome) -> None:
        log.info(describe(outcome, _peer(scope)))

    app: ASGIApp = asgi_app(receiver, path=path, on_outcome=on_outcome)
    if not no_inbox:
        app = with_inbox(
            lambda page: SunoHooksASGIMiddleware(page, receiver, path=path, on_outcome=on_outcome),
            receiver,
            host=host,
            auth=inbox_auth,
            fallback=app,
        )
        log.info("suno-hooks inbox page at http://%s:%d/", host, port)
    log.info(
        "suno-hooks receiving at http://%s:%d%s (store %s, require %s)",
        host,
        port,
        path,
        store,
        receiver.require,
    )
    halt = start_reconciler(receiver) if reconcile else None
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=30)
    if halt is not None:
        halt()


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None

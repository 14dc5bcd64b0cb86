"""`suno-hooks sandbox`: a local Suno API that sends real callbacks, one log line per attempt."""

from __future__ import annotations

import logging

import click

from .options import hmac_key_option, hmac_keys_or_env, log_level_option, needs
from .page import is_loopback

log = logging.getLogger("suno_hooks.sandbox")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8100, show_default=True, type=int)
@hmac_key_option
@click.option("--api-key", help="The only Bearer key accepted (default: any non-empty key).")
@click.option(
    "--timing",
    default="fast",
    show_default=True,
    type=click.Choice(["fast", "realistic"]),
    help="fast: milliseconds between stages; realistic: Kie's order of magnitude.",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    help="Scenario for every task (repeatable): drop, duplicate, reorder, timeout, fail:531, "
    "market, variant, forge, replay; a stage after @ (duplicate@first).",
)
@log_level_option
def sandbox(
    host: str,
    port: int,
    hmac_keys: tuple[str, ...],
    api_key: str | None,
    timing: str,
    scenarios: tuple[str, ...],
    log_level: str,
) -> None:
    """Run a local Suno API that sends real, signed callbacks to each task's callBackUrl
    (unsigned without a key, on a loopback host only).

    \b
    Example (two terminals):
      suno-hooks serve --hmac-key whk_demo --port 8000
      suno-hooks sandbox --hmac-key whk_demo --port 8100
      # then create tasks at http://127.0.0.1:8100/api/v1/generate with
      # "callBackUrl": "http://127.0.0.1:8000/suno/callback"
    """
    with needs("sandbox"):
        import uvicorn

        from ..sandbox import Sandbox, Timing
        from ..sandbox.validation import CreateError

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the sandbox logs each attempt itself
    keys = hmac_keys_or_env(hmac_keys)
    if not keys and not is_loopback(host):
        raise click.UsageError(
            f"Refusing to send unsigned callbacks from {host}: give an --hmac-key (or "
            "$SUNO_HOOKS_HMAC_KEYS) for the sandbox to sign with, or listen on 127.0.0.1."
        )
    try:
        app = Sandbox(
            hmac_key=keys[0] if keys else None,
            api_key=api_key,
            timing=Timing.named(timing),
            scenarios=scenarios,
        )
    except CreateError as exc:
        raise click.UsageError(exc.msg) from None
    log.info(
        "suno-hooks sandbox at http://%s:%d (callbacks %s, timing %s, scenarios %s)",
        host,
        port,
        "signed" if keys else "UNSIGNED: only a receiver with require='none' accepts them",
        timing,
        ", ".join(scenarios) or "none",
    )
    uvicorn.run(app.app, host=host, port=port, log_level="warning")

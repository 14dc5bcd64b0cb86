"""`suno-hooks replay`: run failed deliveries through your handlers again, or re-POST them."""

from __future__ import annotations

import time

import click

from ..receiver import Receiver, replayable
from ..stores import Delivery, DeliveryStatus, Store
from ..stores.redaction import redacted_text, redacted_url
from .inbox import inbox_receiver
from .options import (
    hmac_key_option,
    hmac_keys_or_env,
    import_handlers,
    inbox_here,
    needs,
    store_option,
)
from .sender import TIMEOUT, check_url, post, show, signed

Results = dict[str, tuple[bool, str]]
"""Per delivery key: whether it went through, and the line that says how."""


@click.command()
@store_option
@click.option("--handlers", help="Module that connects your signal receivers; replays run them.")
@click.option("--to", "target", help="Re-POST the failed deliveries to this URL instead.")
@click.option("--key", "keys", multiple=True, help="Replay this delivery key (task_id:stage).")
@click.option(
    "--force",
    is_flag=True,
    help="Run the handlers of the given keys even when a delivery is already done.",
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@hmac_key_option
@click.argument("named", nargs=-1, metavar="[KEY]...")
def replay(
    store: str,
    handlers: str | None,
    target: str | None,
    keys: tuple[str, ...],
    force: bool,
    limit: int,
    hmac_keys: tuple[str, ...],
    named: tuple[str, ...],
) -> None:
    """Replay failed and abandoned deliveries through your handlers, or re-POST them to a URL.

    One of --handlers or --to is required: with neither, nothing would run the deliveries. A
    delivery that fails again is reported failed, and the command exits 1. Name deliveries by
    key (as arguments or with --key) to replay only those; --force runs the handlers of a named
    delivery that is already done, on purpose, once more.

    \b
    Examples:
      suno-hooks replay --handlers myapp.suno_handlers
      suno-hooks replay --handlers myapp.suno_handlers --force 65e5...24a8:complete
      suno-hooks replay --to https://api.example.com/suno/callback --hmac-key whk_...
    """
    if handlers is None and target is None:
        raise click.UsageError(
            "give --handlers MODULE (the module that connects your receivers) or --to URL; "
            "without either, a replay would run nothing"
        )
    keys = (*keys, *named)
    if force and not keys:
        raise click.UsageError("--force replays only the deliveries you name: give their keys")
    if force and target is not None:
        raise click.UsageError(
            "--force runs your --handlers; a re-POST with --to is answered `duplicate` by a "
            "receiver that already handled it"
        )
    import_handlers(handlers)  # a broken handlers module shows first, work or no work
    if target is not None:
        check_url(target)
    receiver = inbox_receiver(inbox_here(store))
    try:
        chosen = (
            [d for d in (receiver.store.get(k) for k in keys) if d is not None]
            if keys
            else replayable(receiver.store, limit)
        )
    except Exception as exc:
        raise click.ClickException(
            f"cannot read the store {redacted_url(store)}: {redacted_text(str(exc), store)}"
        ) from None
    missing = [k for k in keys if k not in {d.key for d in chosen}]
    if missing:
        raise click.UsageError(f"no delivery kept for {', '.join(missing)}")
    if not chosen:
        click.echo("nothing to replay")
        return
    if target is not None:
        results = repost(receiver.store, chosen, target, hmac_keys_or_env(hmac_keys))
    else:
        results = rerun(receiver, chosen, force=force)
    for key, (_, line) in results.items():
        click.echo(f"{key}  {line}")
    through = sum(1 for ok, _ in results.values() if ok)
    failed = len(results) - through
    verb = "re-posted" if target is not None else "replayed"
    click.echo(f"{verb} {through} of {len(results)}" + (f"; {failed} failed" if failed else ""))
    if failed:
        raise SystemExit(1)


def rerun(receiver: Receiver, chosen: list[Delivery], *, force: bool = False) -> Results:
    """Run each delivery through the handlers imported in this process (a done one too, with
    `force`)."""
    results: Results = {}
    with click.progressbar(chosen, label="replaying", hidden=len(chosen) < 5) as bar:
        for delivery in bar:
            outcome = receiver.replay(delivery.key, force=force)
            after = receiver.store.get(delivery.key)
            if outcome.status == 200 and after is not None and after.status == "failed":
                results[delivery.key] = (False, f"failed again: {after.error}")
                continue
            answer = outcome.body.get("status") or outcome.body.get("error")
            detail = outcome.body.get("detail")
            said = f"{outcome.status} {answer}" + (f": {detail}" if detail else "")
            ok = outcome.status == 200
            results[delivery.key] = (ok, f"{'replayed' if ok else 'failed'}: {said}")
    return results


def repost(store: Store, chosen: list[Delivery], target: str, keys: list[str]) -> Results:
    """POST each delivery, signed again, to `target`. When the target keeps this same inbox
    (a `serve` over this store), a delivery its handlers failed again is reported failed."""
    with needs("client"):
        import httpx

    results: Results = {}
    with (
        httpx.Client(timeout=TIMEOUT) as client,
        click.progressbar(chosen, label="re-posting", hidden=len(chosen) < 5) as bar,
    ):
        for delivery in bar:
            headers = signed(delivery.body, keys, int(time.time()))
            response = post(client, target, delivery.body, headers)
            after = store.get(delivery.key)
            if after is not None and after.status == DeliveryStatus.FAILED and ran(delivery, after):
                results[delivery.key] = (False, f"failed again: {after.error}")
            elif response.is_success:
                results[delivery.key] = (True, f"re-posted: {show(response)}")
            else:
                results[delivery.key] = (False, f"failed: {show(response)}")
    return results


def ran(before: Delivery, after: Delivery) -> bool:
    """True when the kept delivery was run again between the two reads."""
    return after.attempts != before.attempts or after.updated_at != before.updated_at

"""`suno-hooks send` and `suno-hooks check`: fire signed sample callbacks at an endpoint."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from ..errors import InvalidPayload
from ..stores.redaction import redacted_text, redacted_url
from ..testing import STAGES, encode, make_callback, sign_headers
from .options import hmac_key_option, hmac_keys_or_env, needs

if TYPE_CHECKING:
    import httpx

TIMEOUT = 10.0
KINDS = sorted(STAGES)


def http_client() -> httpx.Client:
    """An HTTP client with the CLI's timeout; without httpx, the error names the extra."""
    with needs("client"):
        import httpx
    return httpx.Client(timeout=TIMEOUT)


def post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST one body; connection problems become one clear CLI error."""
    import httpx

    try:
        return client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        raise click.ClickException(
            f"{redacted_url(url)} did not answer within {TIMEOUT:.0f} s."
        ) from None
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"cannot reach {redacted_url(url)}: {redacted_text(str(exc), url)}"
        ) from None


def check_url(url: str) -> None:
    """Refuse anything but an absolute http(s) URL."""
    if not url.startswith(("http://", "https://")):
        raise click.UsageError(f"not an http(s) URL: {redacted_url(url)!r}")


def load_body(file: Path) -> bytes:
    """A captured body from a file; it must be a JSON object."""
    try:
        raw = file.read_bytes()
        if not isinstance(json.loads(raw), dict):
            raise ValueError("not a JSON object")
    except OSError as exc:
        raise click.UsageError(f"cannot read {file}: {exc.strerror}") from None
    except ValueError as exc:
        raise click.UsageError(f"{file} is not a JSON object: {exc}") from None
    return raw


def signed(body: bytes, keys: list[str], timestamp: int | None = None) -> dict[str, str]:
    """Kie headers for `body` with the first key, or just the content type without keys."""
    if not keys:
        return {"Content-Type": "application/json"}
    try:
        return sign_headers(body, keys[0], timestamp)
    except InvalidPayload as exc:
        raise click.UsageError(f"cannot sign this body: {exc.detail}") from None


def show(response: httpx.Response) -> str:
    """The answer as one line: the status and the body, or an HTML page's title (never the
    page itself)."""
    text = response.text.strip()
    if "html" in response.headers.get("content-type", "") or text[:1] == "<":
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        named = f': "{" ".join(title.group(1).split())[:100]}"' if title else ""
        return f"{response.status_code} {response.reason_phrase} (an HTML page{named})"
    return f"{response.status_code} {' '.join(text.split())[:500]}"


def wrong_path(response: httpx.Response, url: str) -> str | None:
    """Why a 404 or 405 answer means the URL's path is not the callback's, else None."""
    path = urlsplit(url).path or "/"
    if response.status_code == 404:
        return f"404: is the path right? Nothing answers POST at {path} on this host."
    if response.status_code == 405:
        return f"405: is the path right? {path} on this host does not take POST."
    return None


@click.command()
@click.argument("url")
@click.option("--kind", type=click.Choice(KINDS), default="music", show_default=True)
@click.option(
    "--stage",
    default="complete",
    show_default=True,
    help="text, first, complete or error (music); complete or error otherwise.",
)
@click.option("--task-id", default=None, help="Task id (default: a new random one).")
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Send this captured body instead of a generated one.",
)
@click.option(
    "--repeat",
    default=1,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Send the same delivery N times, as the sender's retries do.",
)
@hmac_key_option
def send(
    url: str,
    kind: str,
    stage: str,
    task_id: str | None,
    file: Path | None,
    repeat: int,
    hmac_keys: tuple[str, ...],
) -> None:
    """Send a realistic signed callback to URL and print the answer; exit 1 when an answer is
    not 2xx or the endpoint cannot be reached.

    \b
    Examples:
      suno-hooks send http://127.0.0.1:8000/suno/callback --hmac-key whk_...
      suno-hooks send http://127.0.0.1:8000/suno/callback --kind lyrics --stage error --repeat 3
      suno-hooks send http://127.0.0.1:8000/suno/callback --file captured.json
    """
    check_url(url)
    if file is not None:
        body = load_body(file)
    else:
        try:
            body = encode(make_callback(kind, stage, task_id))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    keys = hmac_keys_or_env(hmac_keys)
    if not keys:
        click.echo(
            "warn  no HMAC key (--hmac-key or $SUNO_HOOKS_HMAC_KEYS): sending unsigned", err=True
        )
    headers = signed(body, keys)
    refused = 0
    reason = None
    with http_client() as client:
        for _ in range(repeat):
            answer = post(client, url, body, headers)
            click.echo(show(answer))
            refused += not answer.is_success
            reason = reason or wrong_path(answer, url)
    if refused:
        raise click.ClickException(
            f"{refused} of {repeat} answered with a non-2xx status"
            + (f"; {reason}" if reason else "")
        )


@click.command()
@click.argument("url")
@hmac_key_option
@click.option(
    "--no-delivery",
    is_flag=True,
    help="Do not send the valid signed sample (it is a real delivery that runs the handlers).",
)
def check(url: str, hmac_keys: tuple[str, ...], no_delivery: bool) -> None:
    """Tell why callbacks may not arrive at URL: reachability, a valid signed sample answered 200
    within 10 s, unsigned and forged ones refused with 401, HTTPS.

    The valid sample is a real delivery: the endpoint runs its handlers for a made-up task
    (its id starts with "check"). --no-delivery skips it.

    \b
    Example:
      suno-hooks check https://api.example.com/suno/callback --hmac-key whk_...
    """
    check_url(url)
    keys = hmac_keys_or_env(hmac_keys)
    problems: list[str] = []
    if url.startswith("http://"):
        click.echo("warn  plain HTTP: Suno recommends HTTPS for callback URLs")
    with http_client() as client:
        if not keys:
            click.echo("warn  no HMAC key given: cannot send a valid signed sample or a forged one")
        elif no_delivery:
            click.echo("skip  valid signed sample (--no-delivery)")
        else:
            task_id = "check" + uuid.uuid4().hex[:27]
            click.echo(f"note  sending a valid signed sample: a real delivery (task {task_id})")
            click.echo("      that runs the endpoint's handlers; --no-delivery skips it")
            body = encode(make_callback("music", "complete", task_id))
            started = time.monotonic()
            answer = post(client, url, body, signed(body, keys))
            elapsed = time.monotonic() - started
            stop_at_wrong_path(answer, url)
            if answer.status_code == 200:
                click.echo(f"ok    valid sample answered 200 in {elapsed * 1000:.0f} ms")
            else:
                problems.append(f"valid sample answered {show(answer)}")
        wrong: list[tuple[str, list[str]]] = [("unsigned", [])] + (
            [("forged", ["not-" + keys[0]])] if keys else []
        )
        for name, wrong_keys in wrong:
            other = encode(make_callback("music", "complete", "check" + uuid.uuid4().hex[:27]))
            reply = post(client, url, other, signed(other, wrong_keys))
            stop_at_wrong_path(reply, url)
            if reply.status_code == 401:
                click.echo(f"ok    {name} sample refused with 401")
            else:
                problems.append(f"{name} sample was not refused: {show(reply)}")
    for problem in problems:
        click.echo(f"FAIL  {problem}")
    if problems:
        raise SystemExit(1)


def stop_at_wrong_path(response: httpx.Response, url: str) -> None:
    """On a 404 or 405, say the path looks wrong and exit 1: every other sample would only get
    the same page."""
    reason = wrong_path(response, url)
    if reason is not None:
        click.echo(f"FAIL  {reason}")
        raise SystemExit(1)

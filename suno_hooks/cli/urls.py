"""`suno-hooks url`: mint a signed callback URL to pass as `callBackUrl`."""

from __future__ import annotations

import json

import click

from .._callbacks.kinds import FEATURE_KINDS, kind_for_feature
from .._security.tokens import TokenSigner
from .options import secret_key_option

FEATURES = sorted(FEATURE_KINDS)


@click.command()
@click.argument("base")
@click.option(
    "--context",
    default=None,
    help="JSON object carried back as event.context, e.g. '{\"user\": 42}'.",
)
@click.option(
    "--feature", default=None, help="Feature the task is for (replace_section, lyrics, …)."
)
@secret_key_option
def url(base: str, context: str | None, feature: str | None, secret_key: str | None) -> None:
    """Mint a signed callback URL carrying CONTEXT.

    \b
    Example:
      suno-hooks url https://api.example.com/suno/callback --context '{"user": 42}' \\
          --feature replace_section --secret-key "$SECRET"
    """
    if not secret_key:
        raise click.UsageError("a secret key is needed: --secret-key or $SUNO_HOOKS_SECRET_KEY.")
    if not base.startswith(("http://", "https://")):
        raise click.UsageError(f"not an http(s) URL: {base!r}")
    parsed = None
    if context is not None:
        try:
            parsed = json.loads(context)
        except ValueError as exc:
            raise click.UsageError(f"--context is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise click.UsageError("--context must be a JSON object.")
    if feature is not None and kind_for_feature(feature) is None:
        raise click.UsageError(f"unknown --feature {feature!r}: use one of {', '.join(FEATURES)}.")
    click.echo(TokenSigner(secret_key).url(base, parsed, feature))

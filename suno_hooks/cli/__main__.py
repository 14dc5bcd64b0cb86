"""`python -m suno_hooks.cli` runs the `suno-hooks` command."""

from ..console import main

main()

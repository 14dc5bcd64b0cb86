"""The `suno_hooks` management command and the task actions it shares."""

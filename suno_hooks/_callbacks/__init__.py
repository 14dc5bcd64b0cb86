"""Callback bodies to `Event`: JSON loading and task-id lookup, the family of a body, Kie's
market shape, lenient coercion, the meaning of `code`, and polling records turned into bodies.
Private: import from `suno_hooks`."""

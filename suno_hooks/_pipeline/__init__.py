"""The receiver's steps, in order: admission (every check that needs no store), the claim and
processing under a lease, signal dispatch, and the log of each answer. Private: import from
`suno_hooks`."""

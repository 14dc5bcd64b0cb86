"""The receiver's steps, in order: admission (every check that needs no store), the claim and
processing under a lease, signal dispatch, and the log of each answer. The processing is written
once as plans of steps (`steps`, `processing`, `operations`) that a blocking and an awaiting
driver run. Private: import from `suno_hooks`."""

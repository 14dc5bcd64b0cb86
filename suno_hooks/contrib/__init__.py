"""Framework adapters: thin translation between a web framework and the `Receiver`."""

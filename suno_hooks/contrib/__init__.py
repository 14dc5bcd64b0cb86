"""Framework adapters: each translates its framework's request and response and nothing more."""

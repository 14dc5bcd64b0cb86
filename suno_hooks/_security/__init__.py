"""The checks on who sent a callback: Kie's HMAC signature, signed callback-URL tokens and the
IP allow-list. Private: configure them through `Receiver`."""

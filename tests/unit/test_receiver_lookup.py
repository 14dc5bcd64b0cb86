"""`ReceiverLookup` answers what blinker's `receivers_for` answers, through every change of the
connections: connect, disconnect (for one sender or all), a weak receiver collected, a sender
collected and its id reused, bound methods, async receivers."""

from __future__ import annotations

import gc
from typing import Any

from blinker import ANY, Signal
from hypothesis import given, settings
from hypothesis import strategies as st

from suno_hooks._pipeline.signal_receivers import ReceiverLookup, is_async


class Sender:
    pass


def names(found: list[tuple[Any, bool]]) -> list[str]:
    return sorted(getattr(receiver, "__name__", repr(receiver)) for receiver, _ in found)


def expected(signal: Signal, sender: Any) -> list[str]:
    return sorted(getattr(r, "__name__", repr(r)) for r in signal.receivers_for(sender))


def test_connect_and_disconnect_for_one_sender_or_all():
    signal = Signal()
    lookup = ReceiverLookup([signal])
    first, second = Sender(), Sender()

    def to_all(sender: Any, **kw: Any) -> None: ...
    def to_first(sender: Any, **kw: Any) -> None: ...

    assert lookup.receivers(signal, first) == []
    signal.connect(to_all, weak=False)
    assert names(lookup.receivers(signal, first)) == ["to_all"]
    signal.connect(to_first, sender=first, weak=False)
    assert names(lookup.receivers(signal, first)) == ["to_all", "to_first"]
    assert names(lookup.receivers(signal, second)) == ["to_all"]
    signal.connect(to_first, sender=second, weak=False)
    signal.disconnect(to_first, sender=first)
    assert names(lookup.receivers(signal, first)) == ["to_all"]
    assert names(lookup.receivers(signal, second)) == ["to_all", "to_first"]
    signal.disconnect(to_all)
    assert names(lookup.receivers(signal, first)) == []


def test_a_collected_weak_receiver_is_skipped():
    signal = Signal()
    lookup = ReceiverLookup([signal])
    sender = Sender()

    def make() -> Any:
        def short_lived(sender: Any, **kw: Any) -> None: ...

        return short_lived

    receiver = make()
    signal.connect(receiver)
    assert names(lookup.receivers(signal, sender)) == ["short_lived"]
    del receiver
    gc.collect()
    assert lookup.receivers(signal, sender) == []


def test_a_new_sender_with_a_reused_id_gets_only_its_own_receivers():
    signal = Signal()
    lookup = ReceiverLookup([signal])

    def for_old(sender: Any, **kw: Any) -> None: ...

    old = Sender()
    signal.connect(for_old, sender=old, weak=False)
    assert names(lookup.receivers(signal, old)) == ["for_old"]
    for _ in range(200):  # collect the old sender until a new one takes its address
        old_id = id(old)
        del old
        gc.collect()
        new = Sender()
        assert lookup.receivers(signal, new) == [] or id(new) != old_id
        if id(new) == old_id:
            break
        old = new
        signal.connect(for_old, sender=old, weak=False)
        assert names(lookup.receivers(signal, old)) == ["for_old"]


def test_bound_methods_and_async_receivers():
    signal = Signal()
    lookup = ReceiverLookup([signal])
    sender = Sender()

    class Listener:
        def on_sync(self, sender: Any, **kw: Any) -> None: ...

        async def on_async(self, sender: Any, **kw: Any) -> None: ...

    listener = Listener()
    signal.connect(listener.on_sync)
    signal.connect(listener.on_async)
    found = {receiver.__name__: flag for receiver, flag in lookup.receivers(signal, sender)}
    assert found == {"on_sync": False, "on_async": True}
    assert is_async(listener.on_async) and not is_async(listener.on_sync)
    del listener
    gc.collect()
    assert lookup.receivers(signal, sender) == []


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["connect", "disconnect"]), st.integers(0, 3), st.integers(0, 2)),
        max_size=20,
    )
)
def test_it_agrees_with_blinker_through_any_connections(steps: list[tuple[str, int, int]]):
    signal = Signal()
    lookup = ReceiverLookup([signal])
    senders = [Sender(), Sender()]
    receivers = []
    for number in range(4):

        def receiver(sender: Any, **kw: Any) -> None: ...

        receiver.__name__ = f"r{number}"
        receivers.append(receiver)
    for action, number, target in steps:
        sender = ANY if target == 2 else senders[target]
        if action == "connect":
            signal.connect(receivers[number], sender=sender, weak=False)
        else:
            signal.disconnect(receivers[number], sender=sender)
        for each in senders:
            assert names(lookup.receivers(signal, each)) == expected(signal, each)

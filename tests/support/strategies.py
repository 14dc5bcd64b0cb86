"""Hypothesis strategies and predicates shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

from suno_hooks._callbacks.probe import find_task_id, load_json
from suno_hooks.errors import InvalidJSON, InvalidPayload

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "task_id",
                    "taskId",
                    "data",
                    "code",
                    "callbackType",
                    "msg",
                    "images",
                    "instruments",
                    "audioWavUrl",
                    "x",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


def has_task_id(body: bytes) -> bool:
    """Whether a body names a task id the receiver can find."""
    try:
        find_task_id(load_json(body))
    except (InvalidJSON, InvalidPayload):
        return False
    return True

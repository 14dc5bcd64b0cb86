"""The public constructors name their settings: `help(SunoClient)` and the reference show each
one with its default, never a bare `**options`, and each is described in the docstring."""

from __future__ import annotations

import inspect

import pytest

from suno_hooks import Receiver
from suno_hooks.client import AsyncSunoClient, SunoClient
from suno_hooks.reconcile import Reconciler

CLIENT_SETTINGS = ("base_url", "receiver", "callback_base", "timeout", "retries", "backoff")


@pytest.mark.parametrize("cls", [SunoClient, AsyncSunoClient, Reconciler, Receiver])
def test_no_constructor_hides_its_settings_behind_keywords(cls: type):
    parameters = inspect.signature(cls.__init__).parameters.values()
    assert not [p.name for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]


@pytest.mark.parametrize("cls", [SunoClient, AsyncSunoClient])
def test_the_clients_name_and_describe_their_settings(cls: type):
    parameters = inspect.signature(cls.__init__).parameters
    # AsyncSunoClient's docstring points at SunoClient's arguments, which describe them all.
    arguments = (inspect.getdoc(SunoClient) or "").partition("Args:")[2]
    for name in CLIENT_SETTINGS:
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert f"\n    {name}: " in arguments, name
    assert parameters["base_url"].default == "https://api.kie.ai"


def test_the_reconciler_names_its_settings():
    parameters = inspect.signature(Reconciler.__init__).parameters
    assert {"after", "every", "give_up", "rate", "batch", "lease"} <= set(parameters)
    assert (parameters["after"].default, parameters["every"].default) == (600.0, 30.0)

"""One root: every exception class the package defines derives from `SunoHooksException` (every
warning from `SunoHooksWarning`), keeps its standard base, and is named in the tree drawn in
`suno_hooks.errors`' docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

import suno_hooks
from suno_hooks import Receiver, SunoHooksException, SunoHooksWarning, errors
from suno_hooks.asgi import ClientDisconnected
from suno_hooks.client.errors import ApiError, InvalidRequest, SubmissionUncertain
from suno_hooks.sandbox import SandboxError


def package_modules() -> list[ModuleType]:
    """Every module of the package, imported (the CLI's `__main__` would run the CLI)."""
    names = [suno_hooks.__name__]
    names += [
        info.name
        for info in pkgutil.walk_packages(suno_hooks.__path__, f"{suno_hooks.__name__}.")
        if not info.name.endswith(".__main__")
    ]
    return [importlib.import_module(name) for name in names]


def defined_exceptions() -> dict[str, tuple[type[BaseException], bool]]:
    """Each exception class defined in the package, by dotted name, with whether it is public
    (listed in the `__all__` of a module outside the private `_` packages)."""
    found: dict[str, tuple[type[BaseException], bool]] = {}
    for module in package_modules():
        private = any(part.startswith("_") for part in module.__name__.split("."))
        public = set() if private else set(getattr(module, "__all__", ()))
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{name}"] = (value, name in public)
    return found


EXCEPTIONS = defined_exceptions()


def test_the_walk_finds_the_exceptions_of_every_part():
    names = {name.rsplit(".", 1)[-1] for name in EXCEPTIONS}
    expected = {"SunoHooksError", "ConfigurationError", "ApiError", "SandboxError"}
    assert expected | {"ClientDisconnected", "InsecureReceiverWarning", "SpanWarning"} <= names
    assert len(EXCEPTIONS) >= 40


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_every_exception_derives_from_the_root(name: str):
    kind, _ = EXCEPTIONS[name]
    if issubclass(kind, Warning):
        assert issubclass(kind, SunoHooksWarning), name
        assert issubclass(kind, UserWarning), name
    else:
        assert issubclass(kind, SunoHooksException), name


def test_the_docstring_tree_names_every_public_exception():
    doc = errors.__doc__ or ""
    drawn = set(re.findall(r"[├└]── (\w+)", doc)) | set(re.findall(r"^    (\w+)", doc, re.M))
    public = {name.rsplit(".", 1)[-1] for name, (_, shown) in EXCEPTIONS.items() if shown}
    assert public, "no public exception found"
    missing = sorted(public - drawn)
    assert not missing, f"not drawn in the suno_hooks.errors tree: {missing}"
    assert sorted(drawn - {n.rsplit(".", 1)[-1] for n in EXCEPTIONS}) == []


def test_the_standard_bases_and_existing_excepts_still_hold():
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(InvalidRequest, ValueError)
    assert issubclass(errors.InvalidSignature, errors.SignatureError)
    assert issubclass(errors.SignatureError, errors.SunoHooksError)
    assert issubclass(SubmissionUncertain, ApiError)
    with pytest.raises(ValueError):
        raise errors.ConfigurationError("a bad setting")
    with pytest.raises(errors.SunoHooksError):
        raise errors.StoreUnavailable()
    refused = errors.StoreUnavailable(retry_after=9)
    assert (refused.status, refused.code, refused.headers) == (
        503,
        "store_unavailable",
        {"Retry-After": "9"},
    )
    for raised in (
        errors.ConfigurationError("x"),
        ApiError(401, "no key"),
        SandboxError("x"),
        ClientDisconnected(),
        InvalidRequest("x"),
        errors.InvalidToken(),
    ):
        with pytest.raises(SunoHooksException):
            raise raised


def test_the_roots_are_exported_and_warnings_filterable():
    assert "SunoHooksException" in suno_hooks.__all__
    assert "SunoHooksWarning" in suno_hooks.__all__
    assert not issubclass(SunoHooksWarning, SunoHooksException)
    with pytest.warns(SunoHooksWarning):
        Receiver(require="none", store="memory://")

"""The package's shape: what users import sits at the root, the receiver's steps, the callback
model and the security checks in private subpackages, and no two modules import each other.

The import graph is read from the source with `ast`: every `import` and `from ... import`,
including those inside functions and under `if TYPE_CHECKING:`, as an arrow from the importing
module to the module it names (`from pkg import name` points at `pkg.name` when that is a
module). A cycle means neither module can be understood, or moved, without the other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import suno_hooks

PACKAGE = Path(suno_hooks.__file__).parent
ROOT = PACKAGE.parent

# What users import from the package's root; everything else there is private.
PUBLIC_ROOT = {
    "__init__",
    "asgi",
    "console",
    "errors",
    "events",
    "inbound",
    "leases",
    "outcome",
    "pytest_plugin",
    "receiver",
    "reconcile",
    "signals",
    "testing",
    "wsgi",
}
PRIVATE_PACKAGES = ("_pipeline", "_callbacks", "_security")

# Cycles held only by imports under `if TYPE_CHECKING:` that predate this check; a new cycle,
# or one of these held at run time, fails.
KNOWN_TYPE_ONLY_CYCLES = {
    frozenset({"suno_hooks.sandbox.api", "suno_hooks.sandbox.app", "suno_hooks.sandbox.control"}),
    frozenset(
        {
            "suno_hooks.sandbox.scenarios",
            "suno_hooks.sandbox.tasks",
            "suno_hooks.sandbox.validation",
        }
    ),
}


def module_files() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its `__init__.py`)."""
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST, type_only: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    """Every import statement under `tree`, with whether it is read by type checkers only."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, type_only
        elif _type_checking_block(child):
            assert isinstance(child, ast.If)
            for statement in child.body:
                yield from _imports(ast.Module(body=[statement], type_ignores=[]), True)
            for statement in child.orelse:
                yield from _imports(ast.Module(body=[statement], type_ignores=[]), type_only)
        else:
            yield from _imports(child, type_only)


def import_graph(*, with_type_only: bool) -> dict[str, set[str]]:
    """module -> the package's modules it imports."""
    modules = module_files()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        arrows: set[str] = set()
        for statement, type_only in _imports(ast.parse(path.read_text(), str(path))):
            if type_only and not with_type_only:
                continue
            if isinstance(statement, ast.Import):
                arrows.update(alias.name for alias in statement.names if alias.name in modules)
                continue
            assert isinstance(statement, ast.ImportFrom)
            if statement.level:
                base = package.split(".")[: len(package.split(".")) - statement.level + 1]
                target = ".".join(base + ([statement.module] if statement.module else []))
            else:
                target = statement.module or ""
            for alias in statement.names:
                if f"{target}.{alias.name}" in modules:
                    arrows.add(f"{target}.{alias.name}")
                elif target in modules:
                    arrows.add(target)
        arrows.discard(name)
        graph[name] = arrows
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, arrows = work[-1]
            for nxt in arrows:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def test_the_cycle_finder_finds_a_cycle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


def test_the_graph_sees_the_receiver_and_its_steps():
    graph = import_graph(with_type_only=True)
    assert "suno_hooks._pipeline.operations" in graph["suno_hooks.receiver"]
    assert "suno_hooks._pipeline.processing" in graph["suno_hooks.receiver"]
    assert "suno_hooks._pipeline.admission" in graph["suno_hooks._pipeline.operations"]
    assert "suno_hooks._pipeline.parts" in graph["suno_hooks._pipeline.processing"]


def test_no_module_imports_itself_back_even_for_types():
    found = set(cycles(import_graph(with_type_only=True)))
    assert found <= KNOWN_TYPE_ONLY_CYCLES, sorted(sorted(c) for c in found)


def test_no_module_imports_itself_back_at_run_time():
    assert cycles(import_graph(with_type_only=False)) == []


def test_the_receiver_takes_part_in_no_cycle():
    graph = import_graph(with_type_only=True)
    for cycle in cycles(graph):
        assert "suno_hooks.receiver" not in cycle


def test_the_root_holds_the_public_modules_only():
    root = {path.stem for path in PACKAGE.glob("*.py")}
    assert root == PUBLIC_ROOT
    assert len(root) <= 14
    for name in PRIVATE_PACKAGES:
        assert (PACKAGE / name / "__init__.py").is_file()


def test_suno_hooks_exports_nothing_from_a_private_module():
    for name in suno_hooks.__all__:
        module = getattr(getattr(suno_hooks, name), "__module__", "") or ""
        assert not any(f".{private}" in module for private in PRIVATE_PACKAGES), name


def _run(script: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_each_core_module_imports_first_in_a_fresh_interpreter():
    """The receiver and each private module import on their own, whichever comes first."""
    core = sorted(
        name
        for name in module_files()
        if name == "suno_hooks.receiver"
        or any(name.startswith(f"suno_hooks.{private}") for private in PRIVATE_PACKAGES)
    )
    _run(
        f"""
import importlib, sys
for name in {core!r}:
    for loaded in [m for m in sys.modules if m == "suno_hooks" or m.startswith("suno_hooks.")]:
        del sys.modules[loaded]
    importlib.import_module(name)
"""
    )


def test_every_module_of_the_package_imports():
    """Every module imports, the Django app once Django is set up (`__main__` runs a program)."""
    modules = sorted(name for name in module_files() if not name.endswith(".__main__"))
    _run(
        f"""
import importlib
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "suno_hooks.contrib.django",
    ],
    DATABASES={{}},
    USE_TZ=True,
)
django.setup()
for name in {modules!r}:
    importlib.import_module(name)
"""
    )


def _module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _own_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """The names a module defines at its top level, and the names its `__all__` lists."""
    defined: set[str] = set()
    listed: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                defined.add(target.id)
                if target.id == "__all__" and isinstance(node.value, (ast.List, ast.Tuple)):
                    listed |= {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
    return defined, listed


def test_no_test_reaches_a_private_name_through_a_public_module() -> None:
    """A test imports a public module's own names or its `__all__`; anything the module only
    imports for itself is reached at its private home."""
    reached = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module):
                continue
            module = node.module
            if not module.startswith("suno_hooks") or any(
                part.startswith("_") for part in module.split(".")
            ):
                continue
            source = _module_file(module)
            assert source is not None, module
            defined, listed = _own_names(ast.parse(source.read_text()))
            for alias in node.names:
                own = alias.name in defined or alias.name in listed
                if not own and _module_file(f"{module}.{alias.name}") is None:
                    reached.append(f"{path.relative_to(ROOT)}: {module}.{alias.name}")
    assert reached == []

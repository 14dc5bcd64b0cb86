"""Read the Python snippets of a README or a documentation page: sections, code blocks, the
packages its install lines name, and whether what a snippet imports is installed by them."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution, distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", *sorted((ROOT / "examples").glob("*/README.md"))]
# The pages whose Python blocks run as the README's do: the README and every documentation page.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_FENCE = re.compile(r"^```(\w*)\s*$")
_HEADING = re.compile(r"^#{1,3} (.+)$")
_FILE_LINE = re.compile(r"^# ([\w./-]+\.py)\b")
_PIP_INSTALL = re.compile(r"pip install ([^\n#&|;`]+)")
_PROJECT = re.compile(r"""^["']?(?:suno-hooks|\.)(?:\[([\w,-]+)\])?["']?$""")


@dataclass
class Block:
    """One fenced code block."""

    language: str
    text: str
    line: int

    @property
    def file(self) -> str | None:
        """The path a `# path.py` first line names: the block is that file, not a script."""
        found = _FILE_LINE.match(self.text)
        return found.group(1) if found else None


@dataclass
class Section:
    """The blocks under one heading, and the packages its install lines name."""

    readme: Path
    title: str
    blocks: list[Block] = field(default_factory=list)
    extras: set[str] = field(default_factory=set)
    packages: set[str] = field(default_factory=set)
    installs: bool = False

    @property
    def python(self) -> list[Block]:
        """Its Python blocks, in order."""
        return [block for block in self.blocks if block.language == "python"]

    @property
    def name(self) -> str:
        """`README.md: Title` or `docs/guides/flask.md: Title` (relative to the repository)."""
        return f"{self.readme.relative_to(ROOT)}: {self.title}"


def sections(readme: Path) -> list[Section]:
    """The sections of a README or a page, each with its blocks and what its install lines
    name."""
    found = [Section(readme, readme.parent.name)]
    language: str | None = None
    lines: list[str] = []
    start = 0
    for number, line in enumerate(readme.read_text().splitlines(), 1):
        fence = _FENCE.match(line)
        if language is None and fence:
            language, lines, start = fence.group(1), [], number + 1
        elif language is not None and line.startswith("```"):
            found[-1].blocks.append(Block(language, "\n".join(lines) + "\n", start))
            language = None
        elif language is not None:
            lines.append(line)
        elif heading := _HEADING.match(line):
            found.append(Section(readme, heading.group(1).strip()))
        for install in _PIP_INSTALL.findall(line):
            _read_install(found[-1], install)
    return [section for section in found if section.blocks]


def _read_install(section: Section, command: str) -> None:
    section.installs = True
    for word in command.split():
        if word.startswith("-"):
            continue
        project = _PROJECT.match(word)
        if project:
            section.extras.update(filter(None, (project.group(1) or "").split(",")))
        else:
            section.packages.add(canonicalize_name(Requirement(word.strip("\"'")).name))


def installed_by(extras: set[str], packages: set[str]) -> set[str]:
    """Every distribution `pip install suno-hooks[EXTRAS] PACKAGES` brings (as installed here)."""
    wanted = [("suno-hooks", frozenset(extras))] + [(p, frozenset()) for p in packages]
    seen: set[str] = set()
    while wanted:
        name, with_extras = wanted.pop()
        key = canonicalize_name(name)
        for requirement in _requirements(key, with_extras):
            wanted.append((requirement.name, frozenset(requirement.extras)))
        seen.add(key)
    return seen


@cache
def _requirements(name: str, extras: frozenset[str]) -> list[Requirement]:
    try:
        declared = distribution(name).requires or []
    except PackageNotFoundError:
        return []
    chosen = []
    for text in declared:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": e}) for e in (*extras, "")):
            chosen.append(requirement)
    return chosen


def imported_distributions(code: str, local: set[str]) -> set[str]:
    """The distributions providing the top-level modules `code` imports (not the standard
    library, not suno_hooks, not the `local` modules the snippet itself writes)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            modules.add(node.module.split(".")[0])
    owners = module_owners()
    found = set()
    for module in modules - set(sys.stdlib_module_names) - local - {"suno_hooks", "__future__"}:
        assert module in owners, f"no installed distribution provides {module!r}"
        found.update(canonicalize_name(owner) for owner in owners[module])
    return found


def run_example_script(readme: Path, directory: Path, *args: str, env: dict[str, str]) -> str:
    """Save the README's one Python block (its `send_callback.py`) in `directory`, run it with
    `args` as its README says, and return what it printed."""
    [block] = [block for section in sections(readme) for block in section.python]
    assert block.file == "send_callback.py", block.text
    (directory / block.file).write_text(block.text)
    result = subprocess.run(
        [sys.executable, block.file, *args],
        cwd=directory,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@cache
def module_owners() -> dict[str, set[str]]:
    """Each importable top-level module and the distributions that install it (from their file
    lists, as Python 3.11's `packages_distributions` reads them; 3.10's reads only
    `top_level.txt`, which modern wheels leave out)."""
    owners: dict[str, set[str]] = {}
    for dist in distributions():
        names = set((dist.read_text("top_level.txt") or "").split())
        for file in dist.files or []:
            if file.suffix in (".py", ".so", ".pyd") or file.name == "__init__.py":
                top = file.parts[0] if len(file.parts) > 1 else file.name.split(".")[0]
                if not top.endswith((".dist-info", ".data", "__pycache__")):
                    names.add(top)
        for name in names:
            owners.setdefault(name, set()).add(dist.metadata["Name"])
    return owners

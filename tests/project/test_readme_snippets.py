"""Every ```python block of the README and of the documentation pages (docs/**/*.md) compiles
and runs: each section's blocks, in order, in a fresh process, then a signed callback is
delivered to what they built (see `snippet_checks`). What a block imports must be installed by
the section's own install line. The example READMEs' blocks run against the examples under their
real servers (`test_examples.py`, `test_django_example.py`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ..support.snippet_checks import DJANGO_APP, DJANGO_SETTINGS, ENVIRONMENT
from ..support.snippets import (
    PAGES,
    READMES,
    ROOT,
    Block,
    Section,
    imported_distributions,
    installed_by,
    sections,
)

SECTIONS = [section for page in PAGES for section in sections(page) if section.python]
BLOCKS = [
    (section, block)
    for page in (*PAGES, *READMES[1:])
    for section in sections(page)
    for block in section.python
]
# Sections whose handlers must refuse the exercise's callback: the media archive keeps only files
# on Kie's media hosts, and the exercise's files are on files.example.com.
EXPECTED_REFUSAL = {
    "docs/guides/media.md: Keep the music": "files.example.com is not an allowed media host",
}
EXPECTED_OUTPUT = {
    "README.md: Flask": "Neon Rain https://files.example.com/suno/",
    "README.md: Starlette": "['https://files.example.com/suno/",
    "README.md: FastAPI": "['https://files.example.com/suno/",
    "README.md: Any WSGI or ASGI app": "42 ['https://files.example.com/suno/",
    "docs/guides/flask.md: Flask": "7 Neon Rain https://files.example.com/suno/",
    "docs/guides/wsgi-asgi.md: Any WSGI or ASGI app": "42 Neon Rain https://files.example.com/suno/",
    "docs/guides/starlette-fastapi.md: FastAPI": "7 ['https://files.example.com/suno/",
    "docs/guides/reconcile.md: Try it against the sandbox": " by poll http://127.0.0.1:",
}


def test_the_pages_hold_the_sections_the_expected_output_names():
    names = {section.name for section in SECTIONS}
    assert set(EXPECTED_OUTPUT) <= names, sorted(set(EXPECTED_OUTPUT) - names)
    assert {page.relative_to(ROOT).parts[0] for page in PAGES} == {"README.md", "docs"}


@pytest.mark.parametrize(
    ("section", "block"), BLOCKS, ids=[f"{s.name}:{b.line}" for s, b in BLOCKS]
)
def test_every_python_block_compiles(section: Section, block: Block):
    compile(block.text, f"{section.readme.relative_to(ROOT)}:{block.line}", "exec")


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {"PYTHONPATH": f"{ROOT}:{cwd}", "PATH": str(Path(sys.executable).parent)}
    environment.update(ENVIRONMENT)
    return subprocess.run(
        [sys.executable, *command], cwd=cwd, env=environment, capture_output=True, text=True
    )


def write_files(section: Section, directory: Path) -> list[str]:
    """Write the section's file blocks (`# path.py` first line) under `directory`."""
    written = []
    for block in section.python:
        if block.file:
            path = directory / block.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text)
            written.append(block.file)
    return written


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.name)
def test_readme_and_docs_section_runs(section: Section, tmp_path: Path):
    files = write_files(section, tmp_path)
    if "settings.py" in files:
        build_django_project(tmp_path)
        result = run(["-m", "tests.support.snippet_checks", "--django", str(tmp_path)], tmp_path)
    else:
        script = "".join(block.text for block in section.python if not block.file)
        for module in (f[:-3].replace("/", ".") for f in files if not f.startswith("tests/")):
            script += f"import {module}\n"
        (tmp_path / "snippet.py").write_text(script)
        result = run(["-m", "tests.support.snippet_checks", "snippet.py"], tmp_path)
        for test_file in (f for f in files if f.startswith("tests/")):
            tested = run(["-m", "pytest", "-q", "-p", "no:cacheprovider", test_file], tmp_path)
            assert tested.returncode == 0, tested.stdout + tested.stderr
            assert " passed" in tested.stdout
    if section.name in EXPECTED_REFUSAL:
        assert result.returncode != 0 and EXPECTED_REFUSAL[section.name] in result.stderr
        return
    assert result.returncode == 0, f"{section.name}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    assert EXPECTED_OUTPUT.get(section.name, "") in result.stdout


def build_django_project(directory: Path) -> None:
    """A bare project and a `tracks` app around the page's settings, urls and receivers."""
    for path, text in DJANGO_APP.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text(text)
    settings = (directory / "settings.py").read_text()
    (directory / "project" / "settings.py").write_text(DJANGO_SETTINGS + settings)
    urls = (directory / "urls.py").read_text()
    (directory / "project" / "urls.py").write_text("urlpatterns = []\n" + urls)


@pytest.mark.parametrize(
    "section",
    [s for page in (*PAGES, *READMES[1:]) for s in sections(page) if s.python],
    ids=lambda section: section.name,
)
def test_a_snippet_imports_only_what_its_install_line_installs(section: Section):
    readme_sections = sections(section.readme)
    installs = section if section.installs else readme_sections[0]
    allowed = installed_by(installs.extras, installs.packages)
    local = {
        Path(block.file).parts[0].removesuffix(".py") for block in section.python if block.file
    }
    for block in section.python:
        needed = imported_distributions(block.text, local)
        assert needed <= allowed, (
            f"{section.name} (line {block.line}) imports {sorted(needed - allowed)}, "
            f"which its install line does not install"
        )


@pytest.mark.parametrize("readme", READMES[1:], ids=lambda path: path.parent.name)
def test_example_apps_import_only_what_their_readme_installs(readme: Path):
    [install] = [s for s in sections(readme) if s.installs]
    allowed = installed_by(install.extras, install.packages)
    local = {"examples", "suno_site", "tracks"}
    for source in sorted(readme.parent.rglob("*.py")):
        needed = imported_distributions(source.read_text(), local)
        assert needed <= allowed, f"{source.relative_to(ROOT)} needs {sorted(needed - allowed)}"
    for command in ("suno-hooks", "gunicorn", "uvicorn"):
        if f"bin/{command} " in readme.read_text():
            assert command.replace("suno-hooks", "click") in allowed or command in allowed

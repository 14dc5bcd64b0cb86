"""The distributions as the package index would get them: the wheel carries the LICENSE and the
metadata (URLs, classifiers, extras), the sdist leaves out what needs the repository, and every
README link is absolute (relative ones break on the index)."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "https://github.com/suno-hooks/suno-hooks"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend is the locked one, not the newest release on the index.
    build = [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel"]
    subprocess.run([*build, "--outdir", str(out), str(ROOT)], check=True, capture_output=True)
    return out


def test_the_wheel_carries_the_license_and_the_metadata(dist: Path):
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "suno_hooks/py.typed" in names
    assert not any(n.startswith(("tests/", "examples/", "benchmarks/")) for n in names)
    assert metadata["License-Expression"] == "MIT"
    urls = dict(value.split(", ", 1) for value in metadata.get_all("Project-URL"))
    assert set(urls) == {"Homepage", "Documentation", "Repository", "Issues", "Changelog"}
    classifiers = set(metadata.get_all("Classifier"))
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert {"Framework :: Django :: 5.0", "Framework :: FastAPI"} <= classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    [everything] = [r for r in metadata.get_all("Requires-Dist") if r.endswith('extra == "all"')]
    assert "fastapi" in everything and "flask" in everything


def test_the_sdist_leaves_out_what_needs_the_repository(dist: Path):
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml"} <= names
    assert "suno_hooks/receiver.py" in names
    assert not any(n.startswith(("tests/", "examples/", "benchmarks/", "docs/")) for n in names)


def test_readme_links_are_absolute_and_point_into_the_repository():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme) + re.findall(r"<(https?://[^>]+)>", readme)
    assert links
    for link in links:
        assert link.startswith(("https://", "http://")), link
        if link.startswith(REPOSITORY + "/"):
            path = link.removeprefix(REPOSITORY + "/").split("/", 2)[-1]
            assert (ROOT / path).exists(), link

"""`pip install .` gives the same program as the checkout: every subpackage and data file is in the wheel,
the declared dependencies agree with requirements.txt's pins, and the `lora-studio` command exists."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from lora_studio import settings
from tests.conftest import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE = ROOT / "lora_studio"
CODE_SUFFIXES = {".py", ".pyc", ".pyi"}  # .pyi: stubs Gradio writes at import (ignored by git)


def requirements(lines: list[str]) -> dict[str, Requirement]:
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            found[canonicalize_name(req.name)] = req
    return found


def test_declared_dependencies_agree_with_the_pinned_requirements():
    declared = requirements(PYPROJECT["project"]["dependencies"])
    pinned = requirements((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    assert set(declared) == set(pinned), "pyproject.toml and requirements.txt name different packages"
    for name, pin in pinned.items():
        exact = [s.version for s in pin.specifier if s.operator == "=="]
        if exact:  # the version make setup and a Space install must be one that `pip install .` accepts
            assert declared[name].specifier.contains(exact[0], prereleases=True), (name, str(declared[name]))
    # A plain `torch` would pull the multi-gigabyte CUDA build: the same pin in both.
    assert str(declared["torch"].specifier) == str(pinned["torch"].specifier) == "==2.13.0"


def test_the_console_command_runs_the_cli():
    from lora_studio import __main__ as cli

    assert PYPROJECT["project"]["scripts"] == {"lora-studio": "lora_studio.__main__:main"}
    assert callable(cli.main)


def test_usage_lines_name_the_command_as_typed(monkeypatch):
    from lora_studio.__main__ import build_parser

    monkeypatch.setattr("sys.argv", ["/somewhere/venv/bin/lora-studio"])
    assert build_parser().prog == "lora-studio"
    monkeypatch.setattr("sys.argv", ["/somewhere/lora_studio/__main__.py"])
    assert build_parser().prog == "python -m lora_studio"


def test_every_folder_of_code_is_a_package_the_build_finds():
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    assert find["include"] == ["lora_studio*"] and find.get("namespaces") is False
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]:
        if "__pycache__" in folder.parts or folder.is_relative_to(settings.ASSETS_DIR):
            continue
        if any(folder.glob("*.py")):
            assert (folder / "__init__.py").is_file(), (
                f"{folder.relative_to(ROOT)} needs an __init__.py to be installed"
            )


def test_every_data_file_of_the_package_is_package_data():
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]
    missing = []
    for path in PACKAGE.rglob("*"):
        if not path.is_file() or path.suffix in CODE_SUFFIXES or "__pycache__" in path.parts:
            continue
        owner = _owning_package(path)
        relative = path.relative_to(ROOT / owner.replace(".", "/")).as_posix()
        if not any(fnmatch.fnmatch(relative, pattern) for pattern in globs.get(owner, [])):
            missing.append(path.relative_to(ROOT).as_posix())
    assert not missing, f"add these to [tool.setuptools.package-data] in pyproject.toml: {missing}"
    assert list(settings.PRESETS_DIR.glob("*.yaml")) and list(settings.SAMPLES_DIR.glob("*.jsonl"))


def _owning_package(path: Path) -> str:
    folder = path.parent
    while not (folder / "__init__.py").is_file():
        folder = folder.parent
    return folder.relative_to(ROOT).as_posix().replace("/", ".")

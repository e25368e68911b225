"""The Merge & Export tab's handlers, called as the browser would, with a real export worker merging the tiny model."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
from gradio.utils import get_upload_folder

from lora_studio import exports, settings
from lora_studio.engine.worker import run
from lora_studio.runs import RunPaths
from lora_studio.ui import export_tab
from lora_studio.ui.export_tab import OUTPUTS
from lora_studio.ui.export_view import NO_RUN
from tests.integration.helpers import new_run, tiny_config

SECRET = "hf_tabTestSecretToken0987654321"


def as_dict(values: list) -> dict:
    return dict(zip(OUTPUTS, values, strict=True))


def finished_run(tiny_model_dir: Path, chat_file: Path, name: str = "done") -> RunPaths:
    """A run trained to the end in the studio's runs folder, as the dashboard lists it."""
    cfg = tiny_config(tiny_model_dir, chat_file, "training.learning_rate=0.01", "training.max_steps=4")
    paths = new_run(settings.runs_dir(), cfg, name)
    assert run(paths.root) == 0
    return paths


def test_no_finished_run_says_how_to_get_one(tiny_model_dir, chat_file):
    out = as_dict(export_tab.on_refresh(None))
    assert out["run_info"] == NO_RUN() and "Train" in NO_RUN()
    assert out["merge_btn"]["interactive"] is False and out["adapter_dl"]["interactive"] is False
    assert export_tab.on_merge(None, "float32").startswith("Pick")
    queued = new_run(settings.runs_dir(), tiny_config(tiny_model_dir, chat_file), "queued")
    assert as_dict(export_tab.on_refresh(None))["run_info"] == NO_RUN()  # not finished: not offered
    preselected = as_dict(export_tab.select_run(queued.run_id))  # e.g. from another tab, still queued
    assert "only a completed or stopped run" in preselected["run_info"]
    assert preselected["merge_btn"]["interactive"] is False and preselected["adapter_dl"]["interactive"] is False
    refused = export_tab.on_merge(queued.run_id, "float32")
    assert "only a completed or stopped run" in refused and "➡️" in refused


def test_merge_in_a_worker_then_download_and_a_push_offline(tiny_model_dir, chat_file, studio_home):
    paths = finished_run(tiny_model_dir, chat_file)
    out = as_dict(export_tab.on_refresh(None))
    assert out["picker"]["value"] == paths.run_id and paths.run_id in out["run_info"]
    adapter_zip = Path(out["adapter_dl"]["value"])
    # Served from Gradio's own folder under a random name, never from LORA_STUDIO_HOME.
    assert adapter_zip.is_relative_to(get_upload_folder()) and not adapter_zip.is_relative_to(studio_home)
    with zipfile.ZipFile(adapter_zip) as archive:
        assert f"{paths.run_id}-adapter/adapter_config.json" in archive.namelist()
    assert out["merge_btn"]["interactive"] and not out["merged_btn"]["interactive"]
    assert as_dict(export_tab.select_run(paths.run_id))["adapter_dl"]["value"] == str(adapter_zip)  # made once

    assert not export_tab.exporting(paths.run_id)  # an idle tab's timer does not tick
    assert "Merging" in export_tab.on_merge(paths.run_id, "float32")
    assert export_tab.exporting(paths.run_id)  # now it does, until the merge ends
    refused = export_tab.on_merge(paths.run_id, "bfloat16")
    assert "is running" in refused  # one export at a time
    seen, phases, deadline = "", set(), time.time() + 300
    while time.time() < deadline:
        tick = as_dict(export_tab.on_tick(paths.run_id, "float32", seen))
        if tick["seen"] != {"__type__": "update"}:
            seen = tick["seen"]
            phases.add(exports.read_export_status(paths).phase)
        if exports.read_export_status(paths).state != "running":
            break
        time.sleep(0.3)
    final = as_dict(export_tab.on_tick(paths.run_id, "float32", ""))
    assert exports.read_export_status(paths).state == "completed", final["status"]
    assert len(phases) >= 2  # the tab saw the worker move through its phases
    assert "completed" in final["status"] and "| float32 merge |" in final["verification"]
    assert "✅ Verified" in final["verification"] and final["merged_btn"]["interactive"]
    assert exports.list_merged(paths) == [paths.merged / "float32"]
    assert not export_tab.exporting(paths.run_id)

    update, message = export_tab.on_download_merged(paths.run_id, "float32")
    file = update["value"]
    assert update["visible"] and Path(file).is_relative_to(get_upload_folder()) and "ready" in message
    with zipfile.ZipFile(file) as archive:
        assert f"{paths.run_id}-merged-float32/model.safetensors" in archive.namelist()

    message, token_box = export_tab.on_push(paths.run_id, "merged-float32", "me/my-model", SECRET, True)
    assert "HF_HUB_OFFLINE" in message and token_box == ""
    assert SECRET not in message
    assert not any(SECRET in p.read_bytes().decode("utf-8", "replace") for p in paths.root.rglob("*") if p.is_file())


def test_a_failed_merge_is_shown_in_words(tiny_model_dir, chat_file):
    paths = finished_run(tiny_model_dir, chat_file, "broken")
    exports.update_export_status(
        paths,
        action="merge",
        state="failed",
        dtype="float32",
        phase="failed",
        error="Verification failed: the float32 merged model differs",
        hint="Nothing was saved",
    )
    exports.log_path(paths).write_text("loading\nTraceback: boom\n")
    out = as_dict(export_tab.select_run(paths.run_id))
    assert "Verification failed" in out["status"] and "➡️ Nothing was saved" in out["status"]
    assert "Traceback: boom" in out["status"] and "boom" in out["log"]
    assert export_tab.on_cancel(paths.run_id).startswith("❌")


@pytest.fixture(autouse=True)
def no_stray_workers():
    yield
    for paths in exports.exportable_runs(settings.runs_dir()):
        if exports.poll_export(paths).state == "running":
            exports.cancel_export(paths)

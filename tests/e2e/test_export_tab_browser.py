"""Merge & Export in headless Chromium: download the adapter, merge with verification, download the merge."""

from __future__ import annotations

import zipfile

from lora_studio.engine.worker import run
from lora_studio.runs import RunPaths, create_run
from tests.e2e.conftest import screenshot
from tests.e2e.test_config_tab_browser import wait_text
from tests.integration.helpers import tiny_config


def trained_run(home, tiny_model_dir, chat_file) -> RunPaths:
    """A finished tiny run in the server's own runs folder, trained through the engine."""
    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=4", "training.learning_rate=0.01")
    paths = RunPaths(home / "runs" / "20990101-000000-e2e-export")
    create_run(paths, cfg)
    assert run(paths.root) == 0
    return paths


def test_export_adapter_then_merge_and_download(server, server_home, page, tiny_model_dir, chat_file, tmp_path):
    paths = trained_run(server_home, tiny_model_dir, chat_file)
    page.goto(server)
    page.wait_for_selector("#data-sample")
    page.get_by_role("tab", name="Merge & Export").click()
    wait_text(page, "#export-run", paths.run_id)
    assert "4/4 steps" in page.locator("#export-run").inner_text()

    with page.expect_download(timeout=60_000) as download:
        page.locator("#export-adapter-dl").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"{paths.run_id}-adapter.zip"
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
    assert f"{paths.run_id}-adapter/adapter_config.json" in names and f"{paths.run_id}-adapter/README.md" in names

    page.locator("#export-merge").click()
    wait_text(page, "#export-status", "running", timeout=30_000)
    report = wait_text(page, "#export-verification", "Verified", timeout=300_000)
    assert "float32 merge" in report and "1e-04" in report and "4/4" in report
    assert "completed" in page.locator("#export-status").inner_text()
    screenshot(page, "export-verified")

    with page.expect_download(timeout=120_000) as download:
        page.locator("#export-merged-btn").click()
    assert download.value.suggested_filename == f"{paths.run_id}-merged-float32.zip"
    merged = tmp_path / "merged.zip"
    download.value.save_as(merged)
    with zipfile.ZipFile(merged) as archive:
        assert f"{paths.run_id}-merged-float32/model.safetensors" in archive.namelist()

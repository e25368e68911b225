"""The Evaluate tab in headless Chromium: base vs a trained adapter, the score table, a row filter, the Runs
tab's score columns, and refusals in words."""

from __future__ import annotations

import re

import pytest

from lora_studio.engine.train import train
from lora_studio.eval_report import format_value, latest_scores
from lora_studio.runs import update_status
from tests.conftest import write_jsonl
from tests.e2e.conftest import screenshot
from tests.e2e.test_config_tab_browser import wait_text
from tests.integration.helpers import new_run, tiny_config


@pytest.fixture(scope="module")
def trained_run(server_home, tiny_model_dir, tmp_path_factory):
    """A finished tiny run in the server's runs folder that held out 8 of its 32 rows."""
    from tests.conftest import SAMPLE_CHAT

    data = tmp_path_factory.mktemp("eval-data") / "chat.jsonl"
    data.write_text("\n".join(SAMPLE_CHAT.read_text(encoding="utf-8").splitlines()[:32]) + "\n", encoding="utf-8")
    cfg = tiny_config(tiny_model_dir, data, "data.eval_fraction=0.25", "training.max_steps=3")
    paths = new_run(server_home / "runs", cfg, "eval-run")
    update_status(paths, state=train(cfg, paths).state)
    return paths


def test_evaluate_base_against_an_adapter_and_filter_the_rows(server, server_home, page, trained_run, tmp_path):
    page.goto(server)
    page.wait_for_load_state("load")
    page.get_by_role("tab", name="Evaluate").click()
    wait_text(page, "#eval-run-info", "8 held-out row(s)")
    assert page.locator("#eval-adapters input[type=checkbox]:checked").count() == 1  # the run's adapter
    wait_text(page, "#eval-summary", "No evaluation of this run yet")

    page.locator("#eval-start").click()
    summary = wait_text(page, "#eval-summary", "vs the base", timeout=180_000)
    better, worse, same = map(int, re.search(r"better on (\d+) .*worse on (\d+), the same on (\d+)", summary).groups())
    assert better + worse + same == 8
    assert "JSON checks are left out" in summary
    scores = page.locator("#eval-scores").inner_text()
    assert "ROUGE-L" in scores and "eval-run" in scores and "base" in scores
    assert page.locator("#eval-rows tbody tr").count() == 8
    screenshot(page, "evaluate-results")

    page.locator("#eval-filter label", has_text="adapter better").click()
    if better:
        page.wait_for_function(f"document.querySelectorAll('#eval-rows tbody tr').length === {better}")
        assert page.locator("#eval-rows td.better").count() == better
    else:
        wait_text(page, "#eval-rows", "No row matches this filter")
    page.locator("#eval-filter label", has_text="all rows").click()
    page.wait_for_function("document.querySelectorAll('#eval-rows tbody tr').length === 8")

    page.get_by_role("tab", name="Runs").click()
    table = wait_text(page, "#runs-table", "ROUGE-L")
    saved = latest_scores(server_home / "runs")["eval-run"]  # what the evaluation wrote to the run folder
    assert format_value("chrf", saved["chrf"]) in table and format_value("rougeL", saved["rougeL"]) in table

    page.get_by_role("tab", name="Evaluate").click()
    page.locator("#eval-source label", has_text="a file").click()
    page.locator("#eval-start").click()
    wait_text(page, "#eval-message", "Upload a file with the rows to score first")
    prose = write_jsonl(tmp_path / "notes.jsonl", [{"text": "just prose"}, {"text": "more prose"}])
    page.locator("#eval-file input[type=file]").set_input_files(str(prose))
    page.wait_for_timeout(1000)
    page.locator("#eval-start").click()
    wait_text(page, "#eval-message", "no reference answer")
    screenshot(page, "evaluate-refused")

    odd = write_jsonl(tmp_path / "odd.jsonl", [{"question": "Capital of France?", "answer": "Paris"}] * 2)
    page.reload()  # a fresh form; the earlier results stay on disk
    page.wait_for_load_state("load")
    page.get_by_role("tab", name="Evaluate").click()
    wait_text(page, "#eval-run-info", "8 held-out row(s)")
    page.locator("#eval-source label", has_text="a file").click()
    page.locator("#eval-file input[type=file]").set_input_files(str(odd))
    page.wait_for_timeout(1000)
    page.locator("#eval-start").click()
    wait_text(page, "#eval-message", "column mapping box")  # the Data tab's detection, this tab's fix
    page.locator("#eval-map textarea").fill("question=prompt, answer=completion")
    page.locator("#eval-start").click()
    wait_text(page, "#eval-message", "Scoring 2 row(s)")  # mapped: it starts
    page.locator("#eval-cancel").click()
    page.wait_for_function(  # Cancel ends it (a fast machine may have finished the 2 rows first)
        "['cancelled', 'finished'].some(w => document.querySelector('#eval-status').innerText.includes(w))",
        timeout=60_000,
    )

"""One run config per browser, kept across reloads (issue 12), in headless Chromium against a real server."""

from __future__ import annotations

import shutil

from lora_studio.config import RunConfig
from lora_studio.runs import RunPaths, create_run, update_status
from tests.e2e.conftest import screenshot
from tests.e2e.test_data_tab_browser import pick


def wait_text(page, selector: str, text: str, timeout: int = 90_000) -> None:
    """Wait until the element exists (a reloaded page builds it again) and shows `text`."""
    page.wait_for_function(
        f"(e => e !== null && e.innerText.includes({text!r}))(document.querySelector({selector!r}))", timeout=timeout
    )


def value_is(page, selector: str, value: str, timeout: int = 30_000) -> None:
    page.wait_for_function(
        f"(e => e !== null && e.value === {value!r})(document.querySelector({selector!r}))", timeout=timeout
    )


def settings_shown(page) -> dict[str, str]:
    """What the Config tab shows: the Data-tab settings table and the values of the essential widgets."""
    shown = {"data": page.locator("#cfg-data-owned").inner_text()}
    for name in ("lora-r", "lora-alpha", "lora-dropout", "training-num-epochs", "training-learning-rate"):
        shown[name] = page.locator(f"#cfg-{name} input").first.input_value()
    return shown


def test_a_reload_keeps_the_dataset_and_every_setting(server, page):
    """A reload used to forget everything but the running job: 'No dataset yet' and the defaults back."""
    page.goto(server)
    pick(page, "data-sample", "chat-assistant.jsonl")
    page.locator("#data-sample-btn").click()
    wait_text(page, "#data-status", "Ready to train")
    eval_box = page.locator("#data-eval-fraction input[type=number]")
    eval_box.fill("0.2")
    eval_box.press("Tab")
    wait_text(page, "#data-split", "160 rows train, 40 held out")
    page.get_by_role("tab", name="Config").click()
    rank = page.locator("#cfg-lora-r input[type=number]")
    rank.fill("12")
    rank.press("Tab")
    wait_text(page, "#cfg-preflight", "trainable parameters")
    page.get_by_role("button", name="Effective config: exactly").click()
    wait_text(page, "#cfg-yaml", "r: 12")  # built when the accordion first opens

    page.reload(wait_until="load")
    wait_text(page, "#data-status", "chat-assistant.jsonl")
    wait_text(page, "#data-split", "160 rows train, 40 held out")
    value_is(page, "#data-eval-fraction input[type=number]", "0.2")
    page.get_by_role("tab", name="Config").click()
    value_is(page, "#cfg-lora-r input[type=number]", "12")
    wait_text(page, "#cfg-data-owned", "chat-assistant.jsonl")
    wait_text(page, "#cfg-preset", "differ from every preset")  # rank 12 is no preset's: the box names none
    value_is(page, "#cfg-preset input", "")
    screenshot(page, "config-after-reload")


def test_a_preset_round_trip_gives_the_preset_again(server, page):
    """quick-start → chat-assistant → quick-start kept chat-assistant's held-out share (48 rows instead of 50)."""
    page.goto(server)
    pick(page, "data-sample", "chat-assistant.jsonl")
    page.locator("#data-sample-btn").click()
    wait_text(page, "#data-status", "Ready to train")
    page.get_by_role("tab", name="Config").click()
    wait_text(page, "#cfg-preflight", "trainable parameters")
    pick(page, "cfg-preset", "quick-start")
    wait_text(page, "#cfg-message", "quick-start")
    wait_text(page, "#cfg-data-owned", "256 tokens")
    first = settings_shown(page)
    pick(page, "cfg-preset", "chat-assistant")
    wait_text(page, "#cfg-data-owned", "1024 tokens")
    assert "0.05" in page.locator("#cfg-data-owned").inner_text()
    page.reload(wait_until="load")  # the box names the kept settings' preset, not the page's default
    page.get_by_role("tab", name="Config").click()
    value_is(page, "#cfg-preset input", "chat-assistant")
    pick(page, "cfg-preset", "quick-start")
    wait_text(page, "#cfg-data-owned", "256 tokens")
    value_is(page, "#cfg-lora-r input[type=number]", first["lora-r"])
    assert settings_shown(page) == first
    page.get_by_role("tab", name="Data").click()
    wait_text(page, "#data-split", "All 200 rows train")  # the Data tab follows the preset too


def test_deleting_the_watched_run_says_deleted_and_offers_no_resume(server, server_home, page):
    paths = RunPaths(server_home / "runs" / "20250101-000000-to-delete")
    create_run(paths, RunConfig())
    update_status(paths, state="stopped", phase="stopped")
    page.goto(server)
    page.get_by_role("tab", name="Train").click()
    pick(page, "train-picker", paths.run_id)
    wait_text(page, "#train-status", "stopped")
    assert page.locator("#train-resume").is_enabled()
    log_before = (server_home / "server.log").read_text()
    shutil.rmtree(paths.root)  # as the Runs tab's Delete does; an idle page does not poll, the tab shows it when opened
    page.get_by_role("tab", name="Runs").click()
    page.get_by_role("tab", name="Train").click()
    wait_text(page, "#train-status", "was deleted")
    page.wait_for_function("document.querySelector('#train-resume').disabled === true", timeout=10_000)
    assert "crashed" not in page.locator("#train-status").inner_text()
    page.wait_for_timeout(2000)  # a few ticks later: no warning about a value that is not among the choices
    new_log = (server_home / "server.log").read_text()[len(log_before) :]
    assert "not in the list of choices" not in new_log
    screenshot(page, "train-run-deleted")

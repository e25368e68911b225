"""The Playground in headless Chromium: a tiny run's adapter beside its base, in the chat and side by side."""

from __future__ import annotations

import pytest

from lora_studio.engine.train import train
from lora_studio.runs import create_run, new_run_dir, update_status
from tests.e2e.conftest import screenshot
from tests.e2e.test_config_tab_browser import wait_text
from tests.e2e.test_data_tab_browser import pick
from tests.integration.helpers import tiny_config

FOOTER_DONE = "tokens/s"


def set_slider(page, selector: str, value: str) -> None:
    """Type into a slider's number box and leave it (it reports on leaving), until the slider shows the value:
    a box typed into while the accordion was still opening kept its old value once in a full run."""
    box, slider = page.locator(f"{selector} input[type=number]"), page.locator(f"{selector} input[type=range]")
    for _ in range(5):
        box.fill(value)
        box.press("Tab")
        try:
            page.wait_for_function(
                f"document.querySelector({selector + ' input[type=range]'!r}).value === {value!r}", timeout=5_000
            )
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: type it again
            continue
    assert slider.input_value() == value


@pytest.fixture
def tiny_run(server_home, tiny_model_dir, chat_file) -> str:
    """A run trained a few steps on the tiny model, in the e2e server's runs folder (as the worker leaves it)."""
    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=10", "training.learning_rate=0.03")
    paths = new_run_dir(server_home / "runs", "e2e-playground")
    create_run(paths, cfg)
    result = train(cfg, paths)
    update_status(paths, state=result.state, step=result.step, max_steps=result.max_steps)
    return paths.run_id


def test_choose_base_and_adapter_chat_and_compare_side_by_side(server, page, tiny_run, tiny_model_dir):
    page.goto(server)
    page.wait_for_selector("#data-sample")
    page.get_by_role("tab", name="Playground").click()
    wait_text(page, "#pg-status", "Nothing is loaded")
    pick(page, "pg-base", str(tiny_model_dir))  # offered because the run was trained on it
    pick(page, "pg-adapters", tiny_run)
    page.locator("#pg-load").click()
    wait_text(page, "#pg-message", "Loaded")
    status = page.locator("#pg-status").inner_text()
    assert str(tiny_model_dir) in status and tiny_run in status and "Adapters loaded: 1" in status

    # the chat answers with the adapter just loaded, streamed into the history
    assert tiny_run in page.locator("#pg-target").inner_text()
    page.locator("#pg-chat-input textarea").fill("Hello there!")
    page.locator("#pg-send").click()
    chat = wait_text(page, "#pg-chat", FOOTER_DONE)
    assert "Hello there!" in chat and f"{tiny_run} (run) ·" in chat
    screenshot(page, "playground-chat")

    page.get_by_role("tab", name="Compare side by side").click()
    assert tiny_run in page.locator("#pg-compare-with").inner_text()
    page.get_by_text("Generation settings").click()
    set_slider(page, "#pg-temperature", "0")  # greedy: the same answer every time
    page.locator("#pg-compare-prompt textarea").fill("What is 12 plus 30?")
    page.locator("#pg-compare").click()
    adapter_answer = wait_text(page, "#pg-answer-1", FOOTER_DONE, timeout=120_000)
    base_answer = page.locator("#pg-answer-0").inner_text()
    assert "Base model (no adapter) ·" in base_answer and FOOTER_DONE in base_answer
    assert f"{tiny_run} (run) ·" in adapter_answer
    assert "Base model" in page.locator("#pg-head-0").inner_text()
    assert tiny_run in page.locator("#pg-head-1").inner_text()
    assert base_answer.split("Base model (no adapter) ·")[0] != adapter_answer.split(f"{tiny_run} (run) ·")[0]
    assert not page.locator("#pg-col-2").is_visible()  # one adapter: two columns
    assert "greedy" in page.locator("#pg-compare-note").inner_text()
    screenshot(page, "playground-compare")

    page.locator("#pg-unload").click()
    wait_text(page, "#pg-status", "Nothing is loaded")

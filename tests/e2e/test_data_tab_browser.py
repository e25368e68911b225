"""The Data tab in headless Chromium: upload, detected format, preview, and a broken file."""

from __future__ import annotations

import time

from tests.conftest import SAMPLE_CHAT
from tests.e2e.conftest import screenshot

STATUS = "#data-status"


def wait_status(page, text: str) -> str:
    page.wait_for_function(f"document.querySelector('{STATUS}').innerText.includes({text!r})", timeout=60_000)
    return page.locator(STATUS).inner_text()


def test_upload_preview_and_broken_file(server, page, tmp_path):
    page.goto(server)
    page.wait_for_selector("#data-upload")
    page.locator("#data-upload input[type=file]").set_input_files(str(SAMPLE_CHAT))
    status = wait_status(page, "Ready to train")
    assert "chat-assistant.jsonl" in status and "chat messages" in status and "200 usable rows" in status
    assert "What is" in page.locator("#data-preview").inner_text()
    page.wait_for_function("document.querySelector('#data-tokens').innerText.includes('<|im_start|>assistant')")
    tokens = page.locator("#data-tokens").inner_text()
    assert "learned" in tokens and "context (not learned)" in tokens
    assert "Tokens per row" in page.locator("#data-stats").inner_text()
    screenshot(page, "data-tab-loaded")

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": oops}\n', encoding="utf-8")
    page.locator("#data-upload input[type=file]").set_input_files(str(broken))
    status = wait_status(page, "block training")
    assert "line 1" in page.locator("#data-issues").inner_text()
    assert "malformed JSON" in page.locator("#data-issues").inner_text()

    unusable = tmp_path / "unusable.json"
    unusable.write_text('[{"messages": ', encoding="utf-8")
    page.locator("#data-upload input[type=file]").set_input_files(str(unusable))
    status = wait_status(page, "cannot be used")
    assert "not valid JSON" in status and "Still selected" in status and "broken.jsonl" in status
    screenshot(page, "data-tab-broken-file")


def pick(page, elem_id: str, option: str) -> None:
    """Choose an option in a Gradio dropdown (its list is found through aria-controls)."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    page.locator(f"[id='{box.get_attribute('aria-controls')}'] li[aria-label^='{option}']").first.click()
    page.keyboard.press("Escape")


MODEL_BOX = "#data-model textarea, #data-model input"


def type_model(page, model_dir) -> None:
    """Type a base model on the Data tab. The box is usable only once the page's first draw of the kept run config
    has landed (fill waits for that), so nothing typed is drawn over: it must keep the value."""
    box = page.locator(MODEL_BOX).first
    box.fill(str(model_dir))
    box.press("Enter")
    time.sleep(1.0)
    assert box.input_value() == str(model_dir), "the page drew over a model typed after it was usable"


def test_sample_with_other_column_names_is_mapped_in_the_browser(server, page):
    page.goto(server)
    page.wait_for_selector("#data-sample")
    pick(page, "data-sample", "support-faq.csv")
    page.locator("#data-sample-btn").click()
    assert "customer_question" in wait_status(page, "which columns")
    pick(page, "map-prompt", "customer_question")
    pick(page, "map-completion", "agent_answer")
    page.locator("#data-apply-mapping").click()
    status = wait_status(page, "Ready to train")
    assert "mapped: prompt ← 'customer_question'" in status and "60 usable rows" in status
    page.wait_for_function(
        "document.querySelector('#data-tokens').innerText.includes('Go to Account')"
        " || document.querySelector('#data-tokens').innerText.includes('<|im_start|>assistant')"
    )
    screenshot(page, "data-tab-mapped-csv")

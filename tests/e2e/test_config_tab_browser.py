"""The Config tab in headless Chromium: a preset, a rank change, and an invalid combination."""

from __future__ import annotations

from tests.e2e.conftest import screenshot
from tests.e2e.test_data_tab_browser import pick

PREFLIGHT = "#cfg-preflight"


def wait_text(page, selector: str, text: str, timeout: int = 90_000) -> str:
    page.wait_for_function(f"document.querySelector({selector!r}).innerText.includes({text!r})", timeout=timeout)
    return page.locator(selector).inner_text()


def trainable(page) -> int:
    text = page.locator(PREFLIGHT).inner_text()
    return int(text.split("trainable params: ")[1].split()[0].replace(",", ""))


def test_preset_rank_and_an_invalid_combination(server, page):
    page.goto(server)
    page.get_by_role("tab", name="Config").click()
    wait_text(page, PREFLIGHT, "trainable params")
    pick(page, "cfg-preset", "chat-assistant")
    wait_text(page, "#cfg-message", "chat-assistant")
    assert page.locator("#cfg-lora-r input[type=number]").input_value() == "16"
    page.wait_for_function(f"document.querySelector('{PREFLIGHT}').innerText.includes('4,884,480')")
    at_16 = trainable(page)

    rank = page.locator("#cfg-lora-r input[type=number]")
    rank.fill("8")
    rank.press("Tab")  # the slider's box reports on leaving it, like a released slider
    page.wait_for_function(f"!document.querySelector('{PREFLIGHT}').innerText.includes('4,884,480')")
    assert trainable(page) * 2 == at_16
    assert "All settings are valid" in page.locator("#cfg-summary").inner_text()

    page.locator("#cfg-model-load-in-8bit input").check()
    pick(page, "cfg-lora-init", "pissa")
    issues = wait_text(page, "#cfg-issues-lora", "pissa cannot start from an 8-bit base")
    assert "lora.init" in issues
    assert "problem(s) block training" in page.locator("#cfg-summary").inner_text()
    assert "pissa cannot" in page.locator("#cfg-lora-init").inner_text()  # beside the field itself
    assert "cfg-invalid" in page.locator("#cfg-lora-init").get_attribute("class")
    screenshot(page, "config-tab-invalid")

    pick(page, "cfg-lora-init", "olora")  # peft can start OLoRA from 8-bit weights
    wait_text(page, "#cfg-summary", "All settings are valid")
    assert page.locator("#cfg-issues-lora").inner_text().strip() == ""

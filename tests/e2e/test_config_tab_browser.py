"""The Config tab in headless Chromium: a preset, a rank change, and an invalid combination."""

from __future__ import annotations

from tests.e2e.conftest import screenshot
from tests.e2e.test_data_tab_browser import pick

PREFLIGHT = "#cfg-preflight"


def wait_text(page, selector: str, text: str, timeout: int = 90_000) -> str:
    """Waits until the element exists (a hidden Gradio component is not in the page) and shows `text`."""
    page.wait_for_function(f"document.querySelector({selector!r})?.innerText.includes({text!r})", timeout=timeout)
    return page.locator(selector).inner_text()


def trainable(page) -> int:
    text = page.locator(PREFLIGHT).inner_text()
    return int(text.split("trainable parameters")[1].split("(")[1].split(" of ")[0].replace(",", ""))


def test_preset_rank_and_an_invalid_combination(server, page):
    page.goto(server)
    page.get_by_role("tab", name="Config").click()
    wait_text(page, PREFLIGHT, "trainable parameters")
    pick(page, "cfg-preset", "chat-assistant")
    wait_text(page, "#cfg-message", "chat-assistant")
    # the widgets follow the run config the preset replaced
    page.wait_for_function("document.querySelector('#cfg-lora-r input[type=number]').value === '16'", timeout=30_000)
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
    assert "Adapter initialisation" in issues
    assert "problem(s) block training" in page.locator("#cfg-summary").inner_text()
    assert "pissa cannot" in page.locator("#cfg-lora-init").inner_text()  # beside the field itself
    assert "cfg-invalid" in page.locator("#cfg-lora-init").get_attribute("class")
    screenshot(page, "config-tab-invalid")

    pick(page, "cfg-lora-init", "olora")  # peft can start OLoRA from 8-bit weights
    wait_text(page, "#cfg-summary", "All settings are valid")
    assert page.locator("#cfg-issues-lora").inner_text().strip() == ""


def test_out_of_range_values_never_freeze_the_form(server, page):
    """Alpha -5 (a number box with a minimum in the browser) made Gradio refuse every later event of the form:
    a rank change afterwards left 'r: 16' and stale numbers, with only a toast naming no field. Dropout 1.5 was
    clamped in the browser to the slider's end while the server kept its old value."""
    page.goto(server)
    page.get_by_role("tab", name="Config").click()
    wait_text(page, PREFLIGHT, "trainable parameters")
    alpha = page.locator("#cfg-lora-alpha input")
    alpha.fill("-5")
    alpha.press("Tab")
    wait_text(page, "#cfg-lora-alpha", "Alpha (scaling): must be greater than 0 and at most 4,096, got -5")
    rank = page.locator("#cfg-lora-r input[type=number]")
    rank.fill("4")
    rank.press("Tab")
    page.get_by_role("button", name="Effective config: exactly").click()
    page.wait_for_function(
        "(e => e !== null && e.innerText.includes('r: 4'))(document.querySelector('#cfg-yaml'))", timeout=30_000
    )  # built when the accordion first opens
    summary = page.locator("#cfg-summary").inner_text()
    assert "1 problem(s) block training" in summary and "Alpha (scaling)" in summary  # not "all valid"
    dropout = page.locator("#cfg-lora-dropout input[type=number]")
    dropout.fill("1.5")
    dropout.press("Tab")
    page.wait_for_function("document.querySelector('#cfg-yaml').innerText.includes('dropout: 0.99')", timeout=30_000)
    assert dropout.input_value() == "0.99"  # what the browser shows is what the server holds
    alpha.fill("32")
    alpha.press("Tab")
    wait_text(page, "#cfg-summary", "All settings are valid")
    assert "alpha: 32" in page.locator("#cfg-yaml").inner_text()
    screenshot(page, "config-tab-recovered")

"""The Train tab's elapsed clock moves on in the page (page_scripts.CLOCK_SCRIPT), so the server pushes a page only
what changed, not one message per second per page (bench/chart_latency.py: 20 viewers)."""

from __future__ import annotations

from lora_studio.ui.page_scripts import CLOCK_SCRIPT


def test_the_clock_ticks_in_the_page_and_starts_again_from_each_new_drawing(page):
    page.set_content(f'<html><head>{CLOCK_SCRIPT}</head><body><span class="ls-clock" data-elapsed="58">0:58</span>')
    clock = page.locator(".ls-clock")
    # A tick can come late on a loaded machine and skip a second: past the minute is what counts.
    page.wait_for_function("document.querySelector('.ls-clock').textContent.startsWith('1:0')", timeout=15_000)
    # The server draws again (a new step): the page counts on from the new seconds, not from its own.
    page.evaluate("el => { el.dataset.elapsed = '3599'; el.textContent = '59:59'; }", clock.element_handle())
    page.wait_for_function("document.querySelector('.ls-clock').textContent.startsWith('1:00:0')", timeout=15_000)
    assert clock.get_attribute("data-elapsed") == "3599"

"""Training in headless Chromium: start a run, watch the chart grow, reload mid-run, stop, find it in Runs; the
pairs sample previewed and a DPO run with its preference chart."""

from __future__ import annotations

import time

from tests.e2e.conftest import screenshot
from tests.e2e.test_config_tab_browser import wait_text
from tests.e2e.test_data_tab_browser import MODEL_BOX, pick, type_model

PROGRESS = "#train-progress"


def chart_points(page) -> int:
    """Points of the raw loss trace as drawn by plotly in the page."""
    return page.evaluate("""() => {
        const plot = document.querySelector('#train-chart .js-plotly-plot');
        if (!plot || !plot.data) return 0;
        const raw = plot.data.find(t => t.name === 'loss');
        return raw && raw.x ? raw.x.length : 0;
    }""")


def current_step(page) -> int:
    text = page.locator(PROGRESS).inner_text()
    return int(text.split("step ")[1].split("/")[0]) if "step " in text else 0


def open_sample_on_tiny_model(page, server: str, model_dir, sample: str) -> None:
    """The Data tab with the tiny test model as base and a shipped sample chosen."""
    page.goto(server)
    page.wait_for_selector("#data-sample")
    type_model(page, model_dir)
    pick(page, "data-sample", sample)
    page.locator("#data-sample-btn").click()
    # The sample loads for the model typed just before (the click settles what the page shows first).
    wait_text(page, "#data-status", "Ready to train")
    assert page.locator(MODEL_BOX).first.input_value() == str(model_dir)


def test_train_watch_reload_stop_and_history(server, page, tiny_model_dir):
    open_sample_on_tiny_model(page, server, tiny_model_dir, "chat-assistant.jsonl")
    wait_text(page, "#data-status", "Ready to train")

    page.get_by_role("tab", name="Config").click()
    wait_text(page, "#cfg-preflight", "trainable parameters")
    assert "quick-start" in page.locator("#cfg-preset input").input_value()
    page.get_by_text("Advanced settings").click()  # max steps is an advanced setting
    steps = page.locator("#cfg-training-max-steps input[type=number]")
    steps.fill("3000")  # long enough to reload and stop mid-run; the tiny model steps fast
    steps.press("Tab")
    wait_text(page, "#cfg-preflight", "3,000 optimizer steps")

    page.get_by_role("tab", name="Train").click()
    page.locator("#train-name input, #train-name textarea").first.fill("e2e")
    page.locator("#train-start").click()
    wait_text(page, "#train-message", "Started")
    page.wait_for_function("document.querySelector('#train-progress').innerText.includes('tokens/s')", timeout=120_000)
    deadline = time.time() + 60
    while chart_points(page) < 3 and time.time() < deadline:
        time.sleep(0.3)
    first_points, first_step = chart_points(page), current_step(page)
    assert first_points >= 3
    deadline = time.time() + 30
    while not (chart_points(page) > first_points and current_step(page) > first_step) and time.time() < deadline:
        time.sleep(0.3)
    assert chart_points(page) > first_points and current_step(page) > first_step  # live, without a click
    screenshot(page, "train-running")

    page.reload()
    page.wait_for_selector("#data-sample")
    page.get_by_role("tab", name="Train").click()
    wait_text(page, "#train-status", "running")
    page.wait_for_function("document.querySelector('#train-chart .js-plotly-plot') !== null", timeout=30_000)
    deadline = time.time() + 30
    while chart_points(page) <= first_points and time.time() < deadline:
        time.sleep(0.3)
    assert chart_points(page) > first_points  # the full history came back, and it goes on growing
    assert "e2e" in page.locator("#train-picker input").input_value()
    screenshot(page, "train-reattached")

    page.locator("#train-stop").click()
    status = wait_text(page, "#train-status", "stopped", timeout=60_000)
    assert "the adapter was saved" in status
    screenshot(page, "train-stopped")

    page.locator("#train-try").click()  # the stopped run's adapter, opened in the Playground
    page.wait_for_selector("#pg-message", timeout=30_000)  # the Playground tab is now the one shown
    message = wait_text(page, "#pg-message", "Selected the adapter")
    assert "e2e" in message
    page.get_by_role("tab", name="Train").click()

    page.get_by_role("tab", name="Runs").click()
    table = wait_text(page, "#runs-table", "e2e")
    assert "stopped" in table


def preference_traces(page) -> dict:
    return page.evaluate("""() => {
        const plot = document.querySelector('#train-preference .js-plotly-plot');
        if (!plot || !plot.data) return {};
        return Object.fromEntries(plot.data.map(t => [t.name, t.y ? t.y.length : 0]));
    }""")


def test_pairs_are_previewed_and_a_dpo_run_charts_its_rewards(server, page, tiny_model_dir):
    open_sample_on_tiny_model(page, server, tiny_model_dir, "preference-pairs.jsonl")
    status = wait_text(page, "#data-status", "Ready to train")
    assert "pairs of answers" in status and "160 usable rows" in status and "preference-dpo" in status
    tokens = wait_text(page, "#data-tokens", "Rejected answer")
    assert "Prompt and chosen answer" in tokens and "🌱" in tokens
    assert "Tokens per pair" in page.locator("#data-stats").inner_text()
    screenshot(page, "preference-data")

    page.get_by_role("tab", name="Config").click()
    wait_text(page, "#cfg-preflight", "trainable parameters")
    pick(page, "cfg-preset", "preference-dpo")
    wait_text(page, "#cfg-message", "preference-dpo")
    page.wait_for_function("document.querySelector('#cfg-training-method input').value === 'dpo'", timeout=30_000)
    page.get_by_text("Advanced settings").click()
    steps = page.locator("#cfg-training-max-steps input[type=number]")
    steps.fill("6")
    steps.press("Tab")
    wait_text(page, "#cfg-preflight", "6 optimizer steps")
    wait_text(page, "#cfg-summary", "All settings are valid")

    page.get_by_role("tab", name="Train").click()
    page.locator("#train-name input, #train-name textarea").first.fill("dpo-e2e")
    page.locator("#train-start").click()
    wait_text(page, "#train-message", "Started")
    wait_text(page, "#train-status", "completed", timeout=180_000)
    page.wait_for_function(
        "(() => { const p = document.querySelector('#train-preference .js-plotly-plot');"
        " return p && p.data && p.data.some(t => t.name === 'chosen wins (share of pairs)' && t.y.length >= 2); })()",
        timeout=30_000,
    )
    traces = preference_traces(page)
    assert traces["margin (chosen minus rejected)"] >= 2  # logged at step 1 and every 5 steps (the preset)
    assert traces["reward of chosen"] == traces["reward of rejected"] >= 2
    screenshot(page, "preference-train")

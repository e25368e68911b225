"""The dashboard in Japanese, as a browser set to Japanese sees it: sent from / to the Japanese page, a broken file
explained in Japanese with its line number, a first fine-tune through every tab without an English sentence on
the way, and the switch back to English (screenshots in tests/e2e/artifacts/ja-*.png)."""

from __future__ import annotations

import re

import pytest

from lora_studio.messages import text
from tests.e2e.conftest import screenshot
from tests.e2e.test_config_tab_browser import wait_text
from tests.e2e.test_data_tab_browser import pick, type_model

# Words that are English in every language: names of products and services, and commands to type.
NAMES = {"LoRA Studio", "Hugging Face Hub", "accelerate launch", "pip install tensorboard"}
ENGLISH = re.compile(r"[A-Za-z]{3,}(?: [A-Za-z]{3,})+")
# The words a person reads on the page: visible text, without what they wrote or chose (their data, the sample
# answers of the model, code to copy, file names in inputs).
VISIBLE_WORDS = """() => {
    const skip = 'pre, code, .cm-editor, script, style, textarea, input, .js-plotly-plot, #data-preview, #data-tokens,'
        + ' #data-eval-rows, #train-samples, #pg-chat, #eval-scores, #cfg-yaml, #cfg-preview';
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const words = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (!el || el.closest(skip) || !el.checkVisibility()) continue;
        words.push(node.textContent);
    }
    return words.join('\\n');
}"""


@pytest.fixture
def page_ja(browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1300, "height": 1800})
    yield context.new_page()
    context.close()


def english_on(page) -> set[str]:
    return {m.group(0) for m in ENGLISH.finditer(page.evaluate(VISIBLE_WORDS))} - NAMES


def open_tab(page, message_id: str) -> None:
    page.get_by_role("tab", name=text(message_id, "ja")).click()


def test_a_japanese_browser_fine_tunes_in_japanese_and_can_switch_to_english(server, page_ja, tiny_model_dir, tmp_path):
    page = page_ja
    page.goto(server)
    page.wait_for_url(re.compile(r"/ja(\?|$)"), timeout=60_000)  # / sends a Japanese browser to its page
    page.wait_for_selector("#data-upload")
    tabs = page.locator("button[role=tab]").all_inner_texts()
    assert tabs == ["データ", "設定", "学習", "マージとエクスポート", "プレイグラウンド", "評価", "実行履歴"]

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": oops}\n', encoding="utf-8")
    page.locator("#data-upload input[type=file]").set_input_files(str(broken))
    issues = wait_text(page, "#data-issues", "2行目")
    assert "JSONの形式が正しくありません" in issues and "エラー" in issues
    assert "学習できません" in page.locator("#data-status").inner_text()
    screenshot(page, "ja-data-broken-file")

    type_model(page, tiny_model_dir)
    pick(page, "data-sample", "chat-assistant.jsonl")
    page.locator("#data-sample-btn").click()
    status = wait_text(page, "#data-status", "学習の準備ができました")
    assert "使用可能な行 200行" in status
    assert english_on(page) == set()
    screenshot(page, "ja-data")

    open_tab(page, "app.tab.config")
    wait_text(page, "#cfg-preflight", "学習可能なパラメータ")
    alpha = page.locator("#cfg-lora-alpha input[type=number]")
    alpha.fill("-5")
    alpha.press("Tab")
    wait_text(page, "#cfg-lora-alpha", "0より大きい、4,096以下にしてください(入力: -5)")
    screenshot(page, "ja-config-wrong-value")
    alpha.fill("32")
    alpha.press("Tab")
    page.get_by_text(text("config.advanced", "ja")).click()
    steps = page.locator("#cfg-training-max-steps input[type=number]")
    steps.fill("3")
    steps.press("Tab")
    wait_text(page, "#cfg-summary", "すべての設定が有効です")
    assert english_on(page) == set()

    open_tab(page, "app.tab.train")
    page.locator("#train-start").click()
    wait_text(page, "#train-status", "完了", timeout=180_000)
    assert "ステップ 3/3" in page.locator("#train-progress").inner_text()
    page.wait_for_function(
        "(() => { const p = document.querySelector('#train-chart .js-plotly-plot');"
        " return p && p.data && p.data.some(t => t.name === '損失'); })()",
        timeout=30_000,
    )
    assert english_on(page) == set()
    screenshot(page, "ja-train")

    for tab in ("app.tab.export", "app.tab.playground", "evaluate.tab", "app.tab.runs"):
        open_tab(page, tab)
        page.wait_for_timeout(1500)
        assert english_on(page) == set(), tab
        screenshot(page, f"ja-{tab.rsplit('.', 1)[-1]}")

    page.locator("#language-switch a[lang=en]").click()  # the switch: English, remembered by this browser
    page.wait_for_selector("#data-upload")
    assert page.locator("button[role=tab]").all_inner_texts()[:3] == ["Data", "Config", "Train"]
    page.goto(server)
    page.wait_for_selector("#data-upload")
    assert page.locator("button[role=tab]").first.inner_text() == "Data"  # / no longer sends it to Japanese

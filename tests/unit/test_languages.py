"""One page per language: each page is built, and each of its event handlers runs, in its own language."""

from __future__ import annotations

import inspect

import gradio as gr
import pytest

from lora_studio import settings
from lora_studio.errors import ConfigError
from lora_studio.messages import current_language, text
from lora_studio.ui import languages


def test_a_wrapped_handler_answers_in_its_language_and_keeps_its_signature():
    def handler(value: str, request: gr.Request | None = None) -> str:
        return f"{text('app.tab.train')} {value} {current_language()}"

    wrapped = languages.in_language(handler, "ja")
    assert wrapped("x") == "学習 x ja"
    assert current_language() == "en"  # nothing leaks out of the call
    assert inspect.signature(wrapped) == inspect.signature(handler)  # Gradio still passes gr.Request


def test_each_step_of_a_wrapped_generator_runs_in_its_language():
    def steps():
        yield text("app.tab.train")
        yield current_language()

    wrapped = languages.in_language(steps, "ja")
    assert inspect.isgeneratorfunction(wrapped)  # Gradio streams it as before
    produced = wrapped()
    assert next(produced) == "学習"
    assert current_language() == "en"  # between steps the caller's language is back
    assert list(produced) == ["ja"]


def test_each_step_of_a_wrapped_async_generator_runs_in_its_language_and_closing_it_closes_the_handler():
    import asyncio

    closed = []

    async def stream():
        try:
            yield text("app.tab.train")
            await asyncio.sleep(0)
            yield current_language()
            yield "never asked for"
        finally:
            closed.append(current_language())

    wrapped = languages.in_language(stream, "ja")
    assert inspect.isasyncgenfunction(wrapped)  # Gradio streams it as before

    async def scenario():
        produced = wrapped()
        got = [await produced.__anext__(), current_language(), await produced.__anext__()]
        await produced.aclose()  # a page that went away
        return got

    assert asyncio.run(scenario()) == ["学習", "en", "ja"]  # between steps the caller's language is back
    assert len(closed) == 1  # the handler's own clean-up ran


def test_async_handlers_are_refused_rather_than_left_in_english():
    async def handler() -> None:
        return None

    with pytest.raises(TypeError, match="async"):
        languages.in_language(handler, "ja")


def test_the_dashboard_has_a_page_per_language_and_its_handlers_speak_it():
    from lora_studio.ui.app import build_app

    app = build_app()
    assert [path for path, _, _ in app.pages] == ["", "ja"]
    tabs = {
        page: [b.label for b in app.blocks.values() if isinstance(b, gr.Tab) and b.page == page] for page in ("", "ja")
    }
    assert tabs[""][:3] == ["Data", "Config", "Train"]
    assert tabs["ja"][:3] == ["データ", "設定", "学習"]
    languages_by_page = {fn.page: fn.fn._lora_studio_language for fn in app.fns.values() if fn.fn}
    assert languages_by_page == {"": "en", "ja": "ja"}
    home_ja = build_app("ja")  # an operator's LORA_STUDIO_LANG=ja: Japanese at /, English at /en
    assert [path for path, _, _ in home_ja.pages] == ["", "en"]
    assert {fn.page: fn.fn._lora_studio_language for fn in home_ja.fns.values() if fn.fn} == {"": "ja", "en": "en"}


def test_the_switch_links_every_other_language_and_remembers_the_choice():
    html = languages.switch_html("ja", home="en")
    assert '<a href="./?lang=en" lang="en" target="_self">English</a>' in html
    assert '<strong lang="ja">日本語</strong>' in html
    script = languages.head_script("en", follow_browser=True)
    assert languages.STORAGE_KEY in script and '{"en": "", "ja": "ja"}' in script and "follow = true" in script
    assert "follow = false" in languages.head_script("ja", follow_browser=False)


def test_an_operator_language_is_checked_before_the_server_starts(monkeypatch):
    monkeypatch.setenv("LORA_STUDIO_LANG", "JA")
    assert settings.ui_language() == "ja"
    monkeypatch.setenv("LORA_STUDIO_LANG", "")
    assert settings.ui_language() is None
    monkeypatch.setenv("LORA_STUDIO_LANG", "fr")
    with pytest.raises(ConfigError, match="LORA_STUDIO_LANG='fr'") as error:
        settings.ui_language()
    assert "en, ja" in error.value.hint

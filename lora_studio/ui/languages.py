"""The dashboard in every language of the message catalogue: one page per language, in one server.

The page at / speaks the home language (the operator's `serve --lang` / LORA_STUDIO_LANG, else English);
each other language has its page at /<code> (/ja). Every page is built while `speaking(its language)`,
and every event handler of a page is wrapped to answer in that language, so the views and checks that
call `text()` need no language argument. Gradio's own `gr.I18n` translates only fixed keys in the
browser, while most of what we show is built on the server with numbers in it: hence pages.

Without an operator's choice the home page follows the browser: a Japanese browser opening / is sent
to /ja, unless the person chose a language with the switch (kept in the browser's localStorage).
"""

from __future__ import annotations

import functools
import html
import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import gradio as gr

from lora_studio.messages import LANGUAGES, speaking

STORAGE_KEY = "lora-studio-language"


def page_path(code: str, home: str) -> str:
    """The page of `code`, relative to the app's root ('' for the home language)."""
    return "" if code == home else code


def in_language(fn: Callable[..., Any], language: str) -> Callable[..., Any]:
    """`fn` answering in `language`. The wrapper keeps fn's signature (Gradio reads it to pass gr.Request and
    to count inputs) and its kind (a generator stays a generator, each step of it run in the language)."""
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"{fn.__qualname__}: async handlers are not wrapped for a language; make it a plain function")
    if inspect.isasyncgenfunction(fn):  # a live stream (the Train tab's): each step in the language, closed with it

        @functools.wraps(fn)
        async def async_steps(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            with speaking(language):
                produced = fn(*args, **kwargs)
            try:
                while True:
                    with speaking(language):
                        try:
                            value = await produced.__anext__()
                        except StopAsyncIteration:
                            return
                    yield value
            finally:
                await produced.aclose()

        return async_steps
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def steps(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with speaking(language):
                produced = fn(*args, **kwargs)
            while True:
                with speaking(language):
                    try:
                        value = next(produced)
                    except StopIteration:
                        return
                yield value

        return steps

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        with speaking(language):
            return fn(*args, **kwargs)

    return call


def localize(app: gr.Blocks, home: str) -> None:
    """Wrap each event handler of `app` in the language of the page it belongs to."""
    for block_fn in app.fns.values():
        if block_fn.fn is not None and not getattr(block_fn.fn, "_lora_studio_language", None):
            code = block_fn.page or home
            block_fn.fn = in_language(block_fn.fn, code)
            block_fn.fn._lora_studio_language = code  # type: ignore[attr-defined]


def switch_html(current: str, home: str) -> str:
    """Links to the other languages' pages, each named in its own language. A click remembers the choice."""
    links = []
    for code, name in LANGUAGES.items():
        if code == current:
            links.append(f'<strong lang="{code}">{html.escape(name)}</strong>')
        else:
            href = f"./{page_path(code, home)}?lang={code}"
            links.append(f'<a href="{html.escape(href)}" lang="{code}" target="_self">{html.escape(name)}</a>')
    return '<nav id="language-switch" class="ls-language">' + " · ".join(links) + "</nav>"


def head_script(home: str, follow_browser: bool) -> str:
    """Runs in every page's head: remembers a choice made with the switch (?lang=xx) and, when the operator set
    no language, sends a browser whose language has a page of its own from / to that page."""
    pages = {code: page_path(code, home) for code in LANGUAGES}
    return f"""<script>
(() => {{
  const key = {json.dumps(STORAGE_KEY)}, pages = {json.dumps(pages)}, follow = {json.dumps(follow_browser)};
  const asked = new URLSearchParams(location.search).get("lang");
  try {{ if (asked && asked in pages) localStorage.setItem(key, asked); }} catch (e) {{}}
  if (!follow || asked) return;
  const here = location.pathname.replace(/\\/+$/, "").split("/").pop();
  if (Object.values(pages).includes(here) && here !== "") return;
  let chosen = null;
  try {{ chosen = localStorage.getItem(key); }} catch (e) {{}}
  const wanted = chosen || (navigator.languages || [navigator.language]).map(l => (l || "").split("-")[0])
    .find(l => l in pages);
  if (wanted && pages[wanted] && pages[wanted] !== here) location.replace("./" + pages[wanted] + location.hash);
}})();
</script>"""

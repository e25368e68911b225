"""The message catalogue: every text a person reads in the dashboard, keyed by id, one folder per language.

`text(id, **values)` formats the message in the current language: the one `speaking(code)` set for
this thread of work (the dashboard sets it for each page it builds and each event it handles), else
English. Each language is a folder beside this file (`en/`, `ja/`): a module per part of the product (`settings`,
`data`, `config`, `train`, ...: the same parts in every language) gathered by its `__init__.py` into NAME and MESSAGES.
Adding a language means adding one such folder (`xx/`, the same ids): its page appears at /xx. The settings'
labels and help live here too (the `settings` part), under `<section>.<field>.label` and `<section>.<field>.help`,
so the Config tab, the Data tab and the CLI read one wording. Plain data, no gradio and no torch: the CLI and core
modules may read it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

DEFAULT_LANGUAGE = "en"


def _languages() -> dict[str, str]:
    """Language code → its own name, as the switch shows it: one module per language in this package (its file
    name is the code; NAME and MESSAGES inside), English first."""
    codes = sorted(
        (m.name for m in pkgutil.iter_modules(__path__) if re.fullmatch(r"[a-z]{2,3}", m.name)),
        key=lambda code: (code != DEFAULT_LANGUAGE, code),
    )
    return {code: importlib.import_module(f"{__name__}.{code}").NAME for code in codes}


LANGUAGES: dict[str, str] = _languages()

_current: ContextVar[str] = ContextVar("lora_studio_language", default=DEFAULT_LANGUAGE)


def current_language() -> str:
    return _current.get()


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Within the block, `text()` answers in `language` (a code of LANGUAGES)."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: one of {', '.join(LANGUAGES)}")
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


def language_of(tag: str | None) -> str | None:
    """The language of LANGUAGES that a tag or an Accept-Language header names first ('ja-JP,en;q=0.8' → 'ja')."""
    weighted = []
    for position, part in enumerate((tag or "").split(",")):
        code, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        weighted.append((-weight, position, code.strip().split("-")[0].lower()))
    return next((code for _, _, code in sorted(weighted) if code in LANGUAGES), None)


@cache
def catalogue(language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Message id → text for `language` (its module's MESSAGES), falling back to English for a missing id."""
    english = importlib.import_module(f"{__name__}.en").MESSAGES
    if language == DEFAULT_LANGUAGE:
        return dict(english)
    own = importlib.import_module(f"{__name__}.{language}").MESSAGES
    return {**english, **own}


class Message(str):
    """A message as words, remembering its id and values: a worker writes them beside the words into its status
    file, so a page can say the message again in its own language (`say_again`)."""

    message_id: str
    values: dict[str, object]


_remember = False  # set in worker processes: their words go into status files that pages say again


def remember_how_to_say_again() -> None:
    """From now on in this process, `text()` answers with words that remember their id and values (a `Message`):
    a worker calls it first, so the errors it writes into its status file can be said again on a page. Not in the
    web server, whose JSON encoder (orjson) refuses a subclass of str as a key."""
    global _remember
    _remember = True


def text(message_id: str, language: str | None = None, **values: object) -> str:
    """The message `message_id` in `language` (default: the current one), with `{name}` placeholders filled from
    `values`. An unknown id is a bug: KeyError."""
    template = catalogue(language or _current.get())[message_id]
    words = template.format(**values) if values else template
    return english_words(words, message_id, values) if _remember else words


def english(message_id: str, **values: object) -> str:
    """The message in English, remembering how to say it again: for words the server writes into a status file
    (read by the CLI and the logs too) that a page shows in its own language (`say_again`)."""
    return english_words(text(message_id, DEFAULT_LANGUAGE, **values), message_id, values)


def english_words(words: str, message_id: str, values: dict[str, object]) -> Message:
    message = Message(words)
    message.message_id, message.values = message_id, values
    return message


def spoken(words: str) -> dict | None:
    """How to say `words` again ({"id": ..., "values": {...}}, JSON-ready), when they came from `text()`. A value
    that is itself a message keeps its words and how to say them again."""
    if not isinstance(words, Message):
        return None
    values: dict[str, object] = {}
    for name, value in words.values.items():
        if isinstance(value, Message):
            values[name] = {"words": str(value), "message": spoken(value)}
        else:
            values[name] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
    return {"id": words.message_id, "values": values}


def say_again(words: str, how: dict | None) -> str:
    """`words` as written (in English, by a worker) said again in the current language when `how` (from
    `spoken`) names a message this catalogue knows; otherwise the words as they are."""
    if not how or current_language() == DEFAULT_LANGUAGE:
        return words
    values = {
        name: say_again(str(value.get("words", "")), value["message"])
        if isinstance(value, dict) and "message" in value
        else value
        for name, value in dict(how.get("values") or {}).items()
    }
    try:
        return text(str(how["id"]), **values)
    except (KeyError, ValueError, TypeError, IndexError):  # an id or a value this version does not know
        return words


def field_label(dotted: str, language: str | None = None) -> str:
    """A setting's name as a newcomer reads it ('Rank (r)', not 'r')."""
    return text(f"{dotted}.label", language)


def field_help(dotted: str, language: str | None = None) -> str:
    return text(f"{dotted}.help", language)


STATUS_PREFIX = "phase."


@cache
def _status_patterns() -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    """The English phases and states ('loading model', 'answering with {name}') → their message id."""
    exact: dict[str, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for key, english in catalogue(DEFAULT_LANGUAGE).items():
        if not key.startswith(STATUS_PREFIX):
            continue
        if "{" not in english:
            exact[english] = key
            continue
        parts = re.split(r"\{(\w+)\}", english)
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
        patterns.append((re.compile(regex + r"\Z"), key))
    return exact, patterns


def status_words(value: str) -> str:
    """A phase or state as a worker wrote it into its status file (English: the status file is also read by the
    CLI and the logs), in the current language. A phrase the catalogue does not know is shown as it is."""
    if not value or current_language() == DEFAULT_LANGUAGE:
        return value
    exact, patterns = _status_patterns()
    if value in exact:
        return text(exact[value])
    for regex, key in patterns:
        match = regex.match(value)
        if match:
            return text(key, **{name: status_words(part) for name, part in match.groupdict().items()})
    return value

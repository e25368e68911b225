"""The message catalogue: every text a person reads in the dashboard, keyed by id, one module per language.

`text(id, **values)` formats the message in the current language (English until another language
module exists; adding one means adding one file beside `en.py` with the same ids). The settings'
labels and help live here too, under `<section>.<field>.label` and `<section>.<field>.help`, so the
Config tab, the Data tab and the CLI read one wording. Plain data, no gradio and no torch: the
CLI and core modules may read it.
"""

from __future__ import annotations

import importlib
from functools import cache

DEFAULT_LANGUAGE = "en"


@cache
def catalogue(language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Message id → text for `language` (its module's MESSAGES), falling back to English for a missing id."""
    english = importlib.import_module(f"{__name__}.en").MESSAGES
    if language == DEFAULT_LANGUAGE:
        return dict(english)
    own = importlib.import_module(f"{__name__}.{language}").MESSAGES
    return {**english, **own}


def text(message_id: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The message `message_id`, with `{name}` placeholders filled from `values`. An unknown id is a bug: KeyError."""
    template = catalogue(language)[message_id]
    return template.format(**values) if values else template


def field_label(dotted: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A setting's name as a newcomer reads it ('Rank (r)', not 'r')."""
    return text(f"{dotted}.label", language)


def field_help(dotted: str, language: str = DEFAULT_LANGUAGE) -> str:
    return text(f"{dotted}.help", language)

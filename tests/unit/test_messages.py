"""The message catalogue: every setting has a label and help in plain words, and no entry is left over."""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from lora_studio.config import field_metadata, field_names
from lora_studio.generation_config import GenerationSettings
from lora_studio.messages import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    STATUS_PREFIX,
    catalogue,
    current_language,
    field_help,
    field_label,
    language_of,
    say_again,
    speaking,
    status_words,
    text,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_has_a_label_and_help_in_the_catalogue():
    for name in field_names():
        label, help_text = field_label(name), field_help(name)
        assert label.strip() and help_text.strip(), name
        assert label != name.partition(".")[2], f"{name}: the label is the raw field name"
        assert field_metadata(name)["label"] == label and field_metadata(name)["help"] == help_text


def test_no_setting_entry_is_left_over():
    fields = set(field_names())
    for key in catalogue():
        if key.endswith((".label", ".help")) and key.partition(".")[0] in ("model", "lora", "data", "training"):
            assert key.rsplit(".", 1)[0] in fields, f"{key} names no setting"


def test_labels_speak_plain_words_not_peft_field_names():
    for name in field_names():
        assert not re.search(r"\b(lora_alpha|lr_scheduler|use_rslora|load_in_8bit|num_processes)\b", field_label(name))


def test_text_fills_placeholders_and_an_unknown_id_is_a_bug():
    assert text("config.blocked", count=2, labels="Alpha, Rank").startswith("⛔ **2 problem(s)")
    with pytest.raises(KeyError):
        text("no.such.message")


# Strings of the dashboard's modules that hold words but are not shown as such: values the code compares or
# stores (their shown labels come from the catalogue), shell commands, markup, and the web server's plain HTTP
# answers (given before any page exists, so without a language).
NOT_SHOWN_AS_WORDS = {
    "app": {"LoRA Studio"},  # the product's name, the browser tab's title
    "charts": {"top right"},  # plotly's annotation position
    "config_view": {"chosen layers"},  # the value of the all-linear switch's second choice
    "data_handlers": {"(not used)"},  # the value of "no column" in the column mapping
    "token_view": {"context (not learned)", "cut off (past max length)"},  # the engine's segment kinds
    "languages": None,  # the language switch's markup and script: names of languages in their own words
    "page_scripts": None,  # scripts run in the page (the Train tab's moving clock): behaviour, no words
    "server_guards": None,  # plain HTTP answers (411, 413, 429) to requests that come before any page
}
LOGGING_CALLS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


@pytest.mark.parametrize("module", sorted(p.stem for p in (ROOT / "lora_studio" / "ui").glob("*.py")))
def test_the_dashboard_reads_its_words_from_the_catalogue(module):
    """No user-facing English sentence is written in the dashboard's modules: each comes from the catalogue, so
    every page reads in its own language. Log lines are for the operator and stay English."""
    import ast

    allowed = NOT_SHOWN_AS_WORDS.get(module, set())
    if allowed is None:
        pytest.skip(f"{module}: no words shown on a page")
    tree = ast.parse((ROOT / "lora_studio" / "ui" / f"{module}.py").read_text(encoding="utf-8"))
    skipped = {
        id(node.body[0].value)  # docstrings
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOGGING_CALLS:
            skipped |= {id(part) for argument in node.args for part in ast.walk(argument)}  # log.info("...")
        elif isinstance(node, ast.Raise) and node.exc is not None and "ValueError" in ast.unparse(node.exc):
            skipped |= {id(part) for part in ast.walk(node.exc)}  # a caller's bug, not a user's problem
    sentences = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
        and node.value not in allowed
        and re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", node.value)
        and not re.search(r"class=|style=|\{ [a-z-]+:", node.value)  # HTML markup and CSS rules, not words
        and not node.value.lstrip("# ").startswith("python -m lora_studio ")  # a command to copy
    ]
    assert sentences == [], sentences


# ---- every language holds every message ---------------------------------------------------------------------
def _placeholders(template: str) -> set[str]:
    import string

    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != DEFAULT_LANGUAGE])
def test_every_message_exists_in_every_language_with_the_same_placeholders(language):
    english = importlib.import_module("lora_studio.messages.en").MESSAGES
    own = importlib.import_module(f"lora_studio.messages.{language}").MESSAGES
    assert sorted(set(english) - set(own)) == [], f"missing in {language}/"
    assert sorted(set(own) - set(english)) == [], f"in {language}/ but not in en/"
    for key, template in english.items():
        assert own[key].strip(), key
        assert _placeholders(own[key]) == _placeholders(template), key


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != DEFAULT_LANGUAGE])
def test_every_language_keeps_each_message_in_the_same_part_as_english(language):
    """A translator finds an id where the English one is: the same part modules, the same ids in each."""
    folder = ROOT / "lora_studio" / "messages"
    parts = sorted(p.stem for p in (folder / DEFAULT_LANGUAGE).glob("*.py") if p.stem != "__init__")
    assert sorted(p.stem for p in (folder / language).glob("*.py") if p.stem != "__init__") == parts
    for part in parts:
        english = importlib.import_module(f"lora_studio.messages.{DEFAULT_LANGUAGE}.{part}").MESSAGES
        own = importlib.import_module(f"lora_studio.messages.{language}.{part}").MESSAGES
        assert sorted(english) == sorted(own), part


def test_an_id_in_two_parts_of_a_language_is_refused():
    from types import SimpleNamespace

    from lora_studio.messages.gather import gather

    first = SimpleNamespace(__name__="xx.first", MESSAGES={"a.one": "One", "a.two": "Two"})
    second = SimpleNamespace(__name__="xx.second", MESSAGES={"a.two": "Again", "a.three": "Three"})
    assert gather(first, SimpleNamespace(__name__="xx.third", MESSAGES={"a.three": "Three"})) == {
        "a.one": "One",
        "a.two": "Two",
        "a.three": "Three",
    }
    with pytest.raises(ValueError, match=r"xx\.second repeats message ids of an earlier part: a\.two"):
        gather(first, second)


def _source_strings() -> tuple[set[str], tuple[str, ...]]:
    """Every string constant of the package, and the fixed beginnings of its f-strings ('evaluate.metric.')."""
    import ast

    constants: set[str] = set()
    prefixes: set[str] = set()
    for path in (ROOT / "lora_studio").rglob("*.py"):
        if path.parent.parent.name == "messages" and path.parent.name in LANGUAGES:  # a catalogue's own parts
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
                if re.fullmatch(r"[a-z_]+(\.[a-z_]+)*\.", node.value):  # "evaluate.short." + name
                    prefixes.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                first = str(node.values[0].value)
                if re.fullmatch(r"[a-z_]+(\.[a-z_]+)*\.", first):
                    prefixes.add(first)
    return constants, tuple(sorted(prefixes))


def test_no_message_is_left_unused():
    """A message no code asks for is dead wording (a setting's label and help are asked for by their field's
    name; a family like evaluate.metric.<name> by its f-string)."""
    constants, prefixes = _source_strings()
    names = field_names() + [f"generation.{f.name}" for f in fields(GenerationSettings)]
    settings = {f"{name}.{part}" for name in names for part in ("label", "help")}
    english = catalogue()
    phases = {key for key, words in english.items() if key.startswith(STATUS_PREFIX) and "{" not in words}
    unused = [
        key
        for key in english
        if key not in constants and key not in settings and not key.startswith(prefixes) and key not in phases
    ]
    assert unused == []
    # a phase is asked for by the words a worker writes into its status file
    assert sorted(key for key in phases if english[key] not in constants) == []


def test_the_current_language_answers_and_an_unknown_one_is_refused():
    assert text("app.tab.train") == "Train"
    with speaking("ja"):
        assert text("app.tab.train") == "学習"
        assert field_label("lora.r") == "ランク(r)"
        assert text("app.tab.train", "en") == "Train"  # an explicit language wins
    assert current_language() == DEFAULT_LANGUAGE
    with pytest.raises(ValueError, match="unknown language"), speaking("xx"):
        pass


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ja-JP,ja;q=0.9,en;q=0.8", "ja"),
        ("en-US,en;q=0.9,ja;q=0.8", "en"),
        ("fr;q=0.9, ja;q=0.5", "ja"),
        ("de-DE", None),
        ("", None),
        (None, None),
        ("ja;q=abc,en", "en"),
    ],
)
def test_a_browser_header_names_its_language(header, expected):
    assert language_of(header) == expected


def test_a_workers_phase_reads_in_the_pages_language_and_an_unknown_one_as_written():
    """Workers write their phases in English (the CLI and the logs read them too); the page translates them,
    the words filled into a phrase included."""
    assert status_words("saving adapter") == "saving adapter"
    with speaking("ja"):
        assert status_words("saving adapter") == "アダプターを保存中"
        assert status_words("merging: loading the adapter") == "マージ中: アダプターを読み込み中"
        assert status_words("answering with run-7") == "run-7で回答を生成中"
        assert status_words("something new") == "something new"
        assert status_words("") == ""


def test_words_a_worker_wrote_in_english_are_said_again_in_the_pages_language(monkeypatch):
    """A worker runs in English and writes its error into a status file, with how to say it again; the Japanese
    page shows it in Japanese, a nested message included. Words from elsewhere are shown as written."""
    from lora_studio import messages
    from lora_studio.runs import RunStatus

    assert type(text("worker.disk.full")) is str  # in the web server: plain words (orjson refuses str subclasses)
    assert messages.spoken(messages.english("jobs.server_away")) == {"id": "jobs.server_away", "values": {}}
    monkeypatch.setattr(messages, "_remember", True)  # what remember_how_to_say_again() does in a worker
    status = RunStatus()
    reason = text("worker.disk.full")
    status.change({"error": text("worker.disk", reason=reason, detail="Errno 28"), "hint": "plain words"})
    saved = RunStatus.from_dict(json.loads(json.dumps(asdict(status))))  # through the status file
    assert saved.error == "Could not write to disk: the disk is full (Errno 28)"
    assert saved.error_words() == saved.error and saved.hint_words() == "plain words"
    with speaking("ja"):
        assert saved.error_words() == "ディスクに書き込めませんでした: ディスクがいっぱいです(Errno 28)"
        assert saved.hint_words() == "plain words"
        assert say_again("kept", {"id": "no.such.id", "values": {}}) == "kept"  # a file from another version
    saved.change({"error": ""})
    assert "error" not in saved.said

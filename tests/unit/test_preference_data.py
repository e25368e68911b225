"""Pairs of answers for DPO/ORPO: the shapes TRL reads, mapped columns, and the problems named by row."""

from __future__ import annotations

import pytest

from lora_studio.dataset_rows import detect_format, load_dataset_file, require_trainable
from lora_studio.errors import DataError
from lora_studio.sample_answers import row_prompt
from lora_studio.settings import SAMPLES_DIR
from tests.conftest import write_jsonl

USER, ASSISTANT = "user", "assistant"


def turn(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def test_explicit_prompt_as_text_is_kept_as_text(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "2+2?", "chosen": "4.", "rejected": "5."}])
    data = load_dataset_file(path)
    assert data.format == "preference" and "prompt', 'chosen' and 'rejected'" in data.reason
    assert [{k: v for k, v in r.items() if k != "_row"} for r in data.rows] == [
        {"prompt": "2+2?", "chosen": "4.", "rejected": "5."}
    ]


def test_chat_turns_and_text_in_one_row_all_become_turns(tmp_path):
    row = {
        "prompt": [turn("system", "Be short."), turn(USER, "Hi")],
        "chosen": [turn(ASSISTANT, "Hello")],
        "rejected": "Go away",
    }
    data = load_dataset_file(write_jsonl(tmp_path / "p.jsonl", [row]))
    assert data.rows[0]["prompt"] == row["prompt"]
    assert data.rows[0]["chosen"] == [turn(ASSISTANT, "Hello")]
    assert data.rows[0]["rejected"] == [turn(ASSISTANT, "Go away")]
    assert row_prompt(data.rows[0], data.format) == "Hi"


def test_implicit_prompt_is_the_shared_start_of_both_conversations(tmp_path):
    q = [turn(USER, "Capital of France?")]
    rows = [
        {"chosen": [*q, turn(ASSISTANT, "Paris.")], "rejected": [*q, turn(ASSISTANT, "Lyon.")]},
        {"chosen": [turn(USER, "a"), turn(ASSISTANT, "x")], "rejected": [turn(USER, "b"), turn(ASSISTANT, "y")]},
    ]
    data = load_dataset_file(write_jsonl(tmp_path / "p.jsonl", rows))
    assert data.format == "preference" and "pairs of conversations" in data.reason
    assert data.rows[0]["prompt"] == q and data.rows[0]["chosen"] == [turn(ASSISTANT, "Paris.")]
    assert [(i.row, i.message) for i in data.errors] == [
        (2, "no prompt: chosen and rejected do not start with the same user turn")
    ]


def test_other_column_names_are_mapped(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("question,good,bad\nWhy?,Because.,No.\n", encoding="utf-8")
    mapping = {"prompt": "question", "chosen": "good", "rejected": "bad"}
    assert detect_format({"question", "good", "bad"}, mapping)[0] == "preference"
    data = load_dataset_file(path, mapping=mapping)
    assert data.format == "preference" and "chosen ← 'good'" in data.reason
    assert data.rows[0]["chosen"] == "Because."


def test_problems_are_named_by_row(tmp_path):
    rows = [
        {"prompt": "ok", "chosen": "a", "rejected": "b"},
        {"prompt": "same", "chosen": "a", "rejected": "a"},
        {"prompt": " ", "chosen": "a", "rejected": "b"},
        {"prompt": "q", "chosen": "", "rejected": "b"},
        {"prompt": "q", "chosen": "a"},
    ]
    data = load_dataset_file(write_jsonl(tmp_path / "p.jsonl", rows))
    found = {(i.row, i.severity, i.message) for i in data.issues}
    assert found == {
        (2, "warning", "chosen and rejected are the same answer: the pair teaches nothing"),
        (3, "error", "no prompt: add the question the two answers reply to"),
        (4, "error", "the chosen answer is missing or empty"),
        (5, "error", "the rejected answer is missing or empty"),
    }
    assert len(data.rows) == 2
    with pytest.raises(DataError, match="3 problem"):
        require_trainable(data)


def test_the_shipped_sample_is_clean_pairs():
    data = load_dataset_file(SAMPLES_DIR / "preference-pairs.jsonl")
    assert data.format == "preference" and len(data.rows) == 160 and not data.issues
    assert all(r["chosen"].endswith("🌱") and not r["rejected"].endswith("🌱") for r in data.rows)

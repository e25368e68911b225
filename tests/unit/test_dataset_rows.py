from __future__ import annotations

import json

import pytest

from lora_studio.dataset_rows import detect_format, load_dataset_file, require_trainable, training_rows
from lora_studio.errors import DataError
from tests.conftest import write_jsonl

CHAT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def test_messages_detected_with_reason(tmp_path):
    data = load_dataset_file(write_jsonl(tmp_path / "d.jsonl", [CHAT, CHAT]))
    assert data.format == "messages" and "messages" in data.reason
    assert training_rows(data.rows)[0] == {"messages": CHAT["messages"]} and data.errors == []


def test_sharegpt_conversations_become_messages(tmp_path):
    row = {
        "conversations": [
            {"from": "system", "value": "be brief"},
            {"from": "human", "value": "hi"},
            {"from": "gpt", "value": "hello"},
        ]
    }
    data = load_dataset_file(write_jsonl(tmp_path / "d.jsonl", [row]))
    assert data.format == "messages"
    assert [t["role"] for t in training_rows(data.rows)[0]["messages"]] == ["system", "user", "assistant"]


def test_prompt_completion_and_alpaca(tmp_path):
    data = load_dataset_file(write_jsonl(tmp_path / "pc.jsonl", [{"prompt": "2+2?", "completion": "4"}]))
    assert data.format == "prompt_completion" and training_rows(data.rows) == [{"prompt": "2+2?", "completion": "4"}]
    alpaca = {"instruction": "Translate", "input": "chat", "output": "cat"}
    data = load_dataset_file(write_jsonl(tmp_path / "a.jsonl", [alpaca]))
    assert data.format == "prompt_completion" and "Alpaca" in data.reason
    assert training_rows(data.rows) == [{"prompt": "Translate\n\nchat", "completion": "cat"}]


def test_text_and_column_mapping(tmp_path):
    data = load_dataset_file(write_jsonl(tmp_path / "t.jsonl", [{"text": "once upon a time"}]))
    assert data.format == "text"
    rows = [{"question_text": "Capital of France?", "gold_answer": "Paris"}]
    mapping = {"prompt": "question_text", "completion": "gold_answer"}
    data = load_dataset_file(write_jsonl(tmp_path / "m.jsonl", rows), mapping=mapping)
    assert data.format == "prompt_completion"
    assert training_rows(data.rows) == [{"prompt": "Capital of France?", "completion": "Paris"}]


def test_unknown_columns_say_how_to_map():
    with pytest.raises(DataError, match=r"data\.columns"):
        detect_format({"question_text", "gold_answer"})


def test_malformed_line_is_named_by_number(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(CHAT) + "\n" + '{"messages": [\n' + json.dumps(CHAT) + "\n")
    data = load_dataset_file(path)
    assert len(data.rows) == 2
    assert len(data.errors) == 1
    assert data.errors[0].row == 2 and "malformed JSON" in data.errors[0].message
    with pytest.raises(DataError, match="line 2: malformed JSON"):
        require_trainable(data)


def test_row_problems_are_specific(tmp_path):
    rows = [
        CHAT,
        {"messages": [{"role": "user", "content": "hi"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]},
        {"messages": [{"role": "robot", "content": "hi"}]},
    ]
    data = load_dataset_file(write_jsonl(tmp_path / "d.jsonl", rows))
    messages = {e.row: e.message for e in data.errors}
    assert "no assistant turn" in messages[2]
    assert "empty assistant reply" in messages[3]
    assert "unknown role 'robot'" in messages[4]


@pytest.mark.parametrize("content,expected", [(b"", "empty"), (b"\n\n  \n", "empty")])
def test_empty_files(tmp_path, content, expected):
    path = tmp_path / "d.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError, match=expected):
        load_dataset_file(path)


def test_missing_file_and_bom(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset_file(tmp_path / "nope.jsonl")
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(CHAT).encode() + b"\r\n")
    assert load_dataset_file(path).format == "messages"


def test_json_array_file(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([CHAT, CHAT]))
    assert len(load_dataset_file(path).rows) == 2

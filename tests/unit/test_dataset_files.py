"""Every supported file kind, encoding and the malformed cases, each with its row or line number."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from lora_studio.dataset_files import check_size
from lora_studio.dataset_rows import load_dataset_file, split_indices, training_rows
from lora_studio.errors import DataError

CHAT = {"messages": [{"role": "user", "content": "Où est la gare ?"}, {"role": "assistant", "content": "À gauche."}]}


def test_csv_with_quoted_multiline_fields_and_crlf(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b'prompt,completion\r\n"Write a haiku\r\nabout rain","Drops on the tin roof"\r\nHi,Hello\r\n')
    data = load_dataset_file(path)
    assert data.format == "prompt_completion" and data.kind == "csv"
    assert training_rows(data.rows)[0] == {"prompt": "Write a haiku\nabout rain", "completion": "Drops on the tin roof"}
    assert len(data.rows) == 2


def test_tsv_and_mapping_other_column_names(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("question_text\tgold_answer\nCapital of Peru?\tLima\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"data\.columns"):
        load_dataset_file(path)
    data = load_dataset_file(path, mapping={"prompt": "question_text", "completion": "gold_answer"})
    assert training_rows(data.rows) == [{"prompt": "Capital of Peru?", "completion": "Lima"}]
    assert data.columns == ["question_text", "gold_answer"]


def test_mapping_to_a_missing_column_names_the_real_ones(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("q\ta\nx\ty\n", encoding="utf-8")
    with pytest.raises(DataError, match="Pick from: q, a"):
        load_dataset_file(path, mapping={"prompt": "question", "completion": "a"})


def test_csv_with_chat_turns_as_json_text(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame([{"messages": json.dumps(CHAT["messages"])}]).to_csv(path, index=False)
    assert training_rows(load_dataset_file(path).rows) == [CHAT]


def test_broken_csv_is_a_clear_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('prompt,completion\n"never closed,x\n', encoding="utf-8")
    with pytest.raises(DataError, match="not a readable CSV"):
        load_dataset_file(path)


def test_parquet(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame([{"text": "one"}, {"text": "two"}]).to_parquet(path)
    data = load_dataset_file(path)
    assert data.kind == "parquet" and data.format == "text" and len(data.rows) == 2


def test_plain_text_paragraphs_or_lines(tmp_path):
    para = tmp_path / "p.txt"
    para.write_text("First paragraph\nstill first.\n\nSecond one.\n", encoding="utf-8")
    data = load_dataset_file(para)
    assert data.format == "text" and "2 paragraphs" in data.reason
    assert training_rows(data.rows)[0] == {"text": "First paragraph\nstill first."}
    lines = tmp_path / "l.txt"
    lines.write_text("a\nb\nc\n", encoding="utf-8")
    assert len(load_dataset_file(lines).rows) == 3


def test_json_records_columns_and_wrapped(tmp_path):
    cols = tmp_path / "c.json"
    cols.write_text(json.dumps({"prompt": ["a", "b"], "completion": ["1", "2"]}))
    assert training_rows(load_dataset_file(cols).rows) == [
        {"prompt": "a", "completion": "1"},
        {"prompt": "b", "completion": "2"},
    ]
    wrapped = tmp_path / "w.json"
    wrapped.write_text(json.dumps({"data": [CHAT, CHAT]}))
    assert len(load_dataset_file(wrapped).rows) == 2
    broken = tmp_path / "b.json"
    broken.write_text('[{"text": "a"},')
    with pytest.raises(DataError, match="not valid JSON"):
        load_dataset_file(broken)


def test_non_utf8_bytes_are_read_with_the_guessed_encoding_and_reported(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(json.dumps(CHAT, ensure_ascii=False).encode("cp1252") + b"\n")
    data = load_dataset_file(path)
    assert training_rows(data.rows) == [CHAT]  # "Où", "À" survive
    assert data.errors == [] and len(data.warnings) == 1
    assert "not UTF-8" in data.warnings[0].message and "Windows-1252" in data.warnings[0].message


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes((json.dumps(CHAT, ensure_ascii=False) + "\n").encode("utf-16"))
    assert training_rows(load_dataset_file(path).rows) == [CHAT] and load_dataset_file(path).issues == []


def test_duplicates_are_warnings_naming_both_rows(tmp_path):
    path = tmp_path / "d.jsonl"
    other = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}
    path.write_text("\n".join(json.dumps(r) for r in [CHAT, other, CHAT]) + "\n", encoding="utf-8")
    data = load_dataset_file(path)
    assert [str(w) for w in data.warnings] == ["line 3: duplicates line 1"]
    assert data.errors == []


def test_malformed_json_on_line_18_keeps_the_other_rows(tmp_path):
    lines = [json.dumps(CHAT)] * 20
    lines[17] = '{"messages": [{"role": "user", "content": "unterminated}'
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = load_dataset_file(path)
    assert len(data.rows) == 19
    assert [str(e).split(":")[0] for e in data.errors] == ["line 18"]


def test_upload_size_limit(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"x" * 3000)
    with pytest.raises(DataError, match="upload limit"):
        check_size(path, 2048)


def test_split_is_deterministic_and_disjoint():
    train, held = split_indices(100, 0.1, seed=42)
    assert (train, held) == split_indices(100, 0.1, seed=42)
    assert len(held) == 10 and not set(train) & set(held) and sorted(train + held) == list(range(100))
    assert split_indices(100, 0.1, seed=7)[1] != held
    assert split_indices(3, 0.0, seed=1) == ([0, 1, 2], [])
    assert len(split_indices(3, 0.01, seed=1)[1]) == 1  # at least one eval row when asked for


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".txt", ".json"])
def test_random_binary_data_is_called_not_a_text_file(tmp_path, suffix):
    """Random bytes named .csv got advice about CSV quoting; they are not text at all."""
    import random

    path = tmp_path / f"photo{suffix}"
    path.write_bytes(random.Random(0).randbytes(20_000))
    with pytest.raises(DataError) as refused:
        load_dataset_file(path)
    assert f"photo{suffix} is not a text file" in refused.value.one_line()
    assert "quoting" not in refused.value.one_line()

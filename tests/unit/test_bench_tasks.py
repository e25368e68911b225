"""The quality benchmark's tasks (bench/tasks/) and how bench/quality.py reads the Evaluate worker's results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lora_studio.eval_report import build_results, write_results
from lora_studio.evaluation import file_rows
from lora_studio.scoring import applicable_metrics
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import quality
from tasks import TASKS, captain_trait, task
from tasks.generate import HELDOUT, TRAIN, write_all


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_committed_files_are_what_the_generator_writes(tmp_path):
    write_all(tmp_path)
    for t in TASKS:
        for split in ("train", "train-pairs", "heldout"):
            assert (tmp_path / t.name / f"{split}.jsonl").read_bytes() == t.file(split).read_bytes(), (t.name, split)


@pytest.mark.parametrize("t", TASKS, ids=lambda t: t.name)
def test_held_out_prompts_are_never_trained_on_and_pairs_match_the_rows(t):
    train, heldout, pairs = _lines(t.file("train")), _lines(t.file("heldout")), _lines(t.file("train-pairs"))
    assert (len(train), len(heldout), len(pairs)) == (TRAIN, HELDOUT, TRAIN)
    prompts = [r["messages"][0]["content"] for r in train]
    assert len(set(prompts)) == TRAIN
    assert not {r["messages"][0]["content"] for r in heldout} & set(prompts)
    for row, pair in zip(train, pairs, strict=True):
        assert pair["prompt"] == row["messages"][0]["content"] and pair["chosen"] == row["messages"][1]["content"]
        assert pair["rejected"] != pair["chosen"]
    # the Data tab reads them (Evaluate's rows come from the same reader), and a perfect answer scores 1
    rows = file_rows(t.file("heldout")).rows
    references = [r.reference for r in rows]
    assert len(rows) == HELDOUT
    if t.metric == "trait":
        assert all(t.score_answer(ref) == 1.0 for ref in references)
    else:
        assert t.metric in applicable_metrics(references)


def test_the_style_trait_is_one_sentence_that_starts_and_ends_as_taught():
    assert captain_trait("Aye, 7 plus 7 makes 14, matey.")
    assert captain_trait("  Aye, the word map starts with the letter m, matey.\n")
    assert not captain_trait("7 plus 7 makes 14. I hope this helps!")
    assert not captain_trait("Aye, 7 plus 7 makes 14, matey. Anything else, matey.")  # two sentences
    assert not captain_trait("Aye, 7 plus 7 makes 14.")
    assert not captain_trait("aye, 7 plus 7 makes 14, matey.")


def test_scores_are_read_from_what_the_evaluate_worker_writes(tmp_path):
    """The benchmark's instrument: the task's metric from summary.json, or the trait from rows.jsonl."""
    for name, answers, expected in (
        ("order-json", lambda r: r.reference, 1.0),
        ("notes-qa", lambda r: "I think it is " + r.reference, 0.0),
        ("captain-style", lambda r: r.reference if r.row % 2 else "Arr.", None),
    ):
        t = task(name)
        rows = file_rows(t.file("heldout")).rows
        spec = {
            "id": "x",
            "created": 0.0,
            "batch_size": 16,
            "base": {"name_or_path": "m"},
            "data": {"path": "p"},
            "generation": {},
            "rows": [r.__dict__ for r in rows],
        }
        outputs = {
            "base": {"answers": ["?"] * len(rows), "answer_tokens": [1] * len(rows), "losses": [(1.0, 1)] * len(rows)},
            "side-s1": {
                "answers": [answers(r) for r in rows],
                "answer_tokens": [1] * len(rows),
                "losses": [(1.0, 1)] * len(rows),
            },
        }
        for out in outputs.values():
            out["seconds"] = 1.0
        folder = tmp_path / f".{name}"
        folder.mkdir()
        summary, records = build_results(spec, outputs, max_new_tokens=64)
        scores = quality.scores_of(write_results(folder, summary, records), t)
        assert scores["base"] == {"score": 0.0, "loss": 1.0}
        odd = sum(r.row % 2 for r in rows) / len(rows)
        assert scores["side-s1"]["score"] == pytest.approx(odd if expected is None else expected)

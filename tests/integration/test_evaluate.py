"""Evaluate end to end on the tiny model: batched answers, the worker, the CLI, the files and the refusals."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lora_studio.adapters import AdapterInfo
from lora_studio.engine.train import train
from lora_studio.errors import DataError, ModelError
from lora_studio.eval_report import evaluations, latest_scores, read_rows, read_summary
from lora_studio.evaluation import (
    cancel_evaluation,
    eval_root,
    file_rows,
    models_for,
    poll_evaluation,
    split_rows,
    start_evaluation,
    write_spec,
)
from lora_studio.generation_config import GenerationSettings
from lora_studio.runs import update_status
from tests.conftest import SAMPLE_CHAT, write_jsonl
from tests.integration.helpers import new_run, tiny_config
from tests.integration.test_cli import cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    """A finished tiny run that held out 10 of its 40 rows (trained once for this module)."""
    folder = tmp_path_factory.mktemp("evaluate")
    data = folder / "chat.jsonl"
    data.write_text("\n".join(SAMPLE_CHAT.read_text(encoding="utf-8").splitlines()[:40]) + "\n", encoding="utf-8")
    cfg = tiny_config(tiny_model_dir, data, "data.eval_fraction=0.25", "training.max_steps=3")
    paths = new_run(folder / "runs", cfg, "tiny-run")
    update_status(paths, state=train(cfg, paths).state)
    return paths


def test_batched_answers_equal_one_row_at_a_time(tiny_model_dir, chat_file):
    from transformers import AutoModelForCausalLM

    from lora_studio.dataset_rows import load_dataset_file
    from lora_studio.engine.eval_worker import generate_answers, render_prompt
    from lora_studio.engine.models import load_tokenizer
    from lora_studio.evaluation import rows_from_data

    tokenizer = load_tokenizer(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    rows, _ = rows_from_data(load_dataset_file(chat_file))
    prompts = [render_prompt(tokenizer, r) for r in rows[:6]]
    assert len({len(tokenizer(p)["input_ids"]) for p in prompts}) > 1  # left padding is really exercised
    settings = GenerationSettings.greedy(12)
    batched, batched_counts = generate_answers(model, tokenizer, prompts, settings, batch_size=6)
    single, single_counts = generate_answers(model, tokenizer, prompts, settings, batch_size=1)
    assert batched == single
    assert batched_counts == single_counts
    assert all(0 < c <= 12 for c in batched_counts)


def test_held_out_rows_are_the_split_training_used(trained):
    rows = split_rows(trained)
    assert len(rows.rows) == 10 and rows.source == "split" and rows.run_id == "tiny-run"
    assert all(r.reference and r.messages[-1]["role"] == "user" for r in rows.rows)
    assert len(split_rows(trained, limit=3).rows) == 3


def test_cli_evaluate_writes_the_summary_it_prints(trained, tmp_path):
    out = tmp_path / "scores.json"
    proc = cli("evaluate", "--run-dir", str(trained.root), "--base", "--out", str(out), "--set", "max_new_tokens=8")
    assert proc.returncode == 0, proc.stderr
    assert "rougeL" in proc.stdout and "tiny-run vs base:" in proc.stdout
    scores = json.loads(out.read_text())
    assert set(scores) == {"base", "tiny-run"}
    for label in scores:
        assert {"exact_match", "rougeL", "chrf", "bleu", "loss", "perplexity"} <= set(scores[label])
        assert "json_valid" not in scores[label]  # the references are not JSON
    folder = evaluations(eval_root(trained))[0]  # the newest
    summary = read_summary(folder)
    assert summary is not None and summary["models"] == scores  # the saved summary is what the CLI wrote
    rows = read_rows(folder)
    assert len(rows) == 10 and set(rows[0]["answers"]) == {"base", "tiny-run"}
    assert rows[0]["verdicts"]["tiny-run"] in ("better", "worse", "same")
    assert latest_scores(trained.root.parent)["tiny-run"] == scores["tiny-run"]  # the Runs tab's columns
    assert not [p for p in eval_root(trained).iterdir() if p.name.startswith(".2")]  # no hidden leftovers


def test_cli_refuses_bad_input_with_exit_2(trained, tmp_path, capsys):
    from lora_studio.__main__ import main

    def refused(*args: str) -> str:
        assert main(["evaluate", *args]) == 2
        return capsys.readouterr().err

    text_file = write_jsonl(tmp_path / "notes.jsonl", [{"text": "just prose"}, {"text": "more prose"}])
    assert "no reference answer" in refused("--run-dir", str(trained.root), "--data", str(text_file))
    assert "not a run folder" in refused("--run-dir", str(tmp_path), "--base")
    odd = write_jsonl(tmp_path / "odd.jsonl", [{"question": "Hi?", "answer": "Hello"}])
    assert "--map COLUMN=prompt" in refused("--run-dir", str(trained.root), "--data", str(odd))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": [\n', encoding="utf-8")
    assert "line 1" in refused("--run-dir", str(trained.root), "--data", str(broken))
    assert "cannot read --map" in refused("--run-dir", str(trained.root), "--data", str(odd), "--map", "question")
    assert not [p for p in eval_root(trained).glob(".*") if p.is_dir()]  # refusals leave no spec folder


def test_rows_without_a_reference_are_listed_and_skipped(tmp_path):
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
            {"messages": [{"role": "user", "content": "No answer here"}]},
            {"prompt": "ignored shape", "completion": "x"},
        ],
    )
    rows = file_rows(path)
    assert [r.reference for r in rows.rows] == ["Hello"]
    assert [s["row"] for s in rows.skipped] == [2, 3]
    assert "no assistant turn" in rows.skipped[0]["reason"]
    with pytest.raises(DataError, match="no row with a reference answer"):
        file_rows(write_jsonl(tmp_path / "none.jsonl", [{"messages": [{"role": "user", "content": "Hi"}]}]))


def test_an_adapter_of_another_base_is_refused_in_words(tmp_path):
    other = AdapterInfo("upload:x", "x (uploaded)", tmp_path, "meta-llama/Llama-3.2-1B", "upload")
    with pytest.raises(ModelError, match=r"trained on meta-llama/Llama-3\.2-1B"):
        models_for("HuggingFaceTB/SmolLM2-135M-Instruct", True, [other])


def test_dashboard_worker_runs_and_cancel_leaves_no_summary(trained, tiny_model_dir):
    root = eval_root(trained)
    before = len(evaluations(root))
    base = {"name_or_path": str(tiny_model_dir), "dtype": "auto", "load_in_8bit": False}
    models = models_for(str(tiny_model_dir), True, [])
    folder = write_spec(root, base, models, split_rows(trained), GenerationSettings.greedy(8), batch_size=4)
    start_evaluation(folder)
    deadline = time.time() + 120
    while poll_evaluation(root).state == "running" and time.time() < deadline:
        time.sleep(0.5)
    status = poll_evaluation(root)
    assert status.state == "completed", status
    assert status.rows_done == status.rows_total == 10
    assert read_summary(Path(status.result))["models"]["base"]["loss"] > 0

    generation = GenerationSettings.greedy(400)
    folder = write_spec(root, base, models, split_rows(trained), generation, batch_size=1)
    start_evaluation(folder)
    cancel_evaluation(root)
    deadline = time.time() + 60
    while poll_evaluation(root).state == "running" and time.time() < deadline:
        time.sleep(0.3)
    assert poll_evaluation(root).state == "cancelled"
    assert not folder.exists()
    assert len(evaluations(root)) == before + 1  # the finished one, not the cancelled one


def test_evaluate_at_end_scores_the_held_out_rows_and_keeps_the_run_completed(tmp_path, tiny_model_dir, chat_file):
    from lora_studio.engine import worker
    from lora_studio.runs import read_status

    cfg = tiny_config(
        tiny_model_dir, chat_file, "data.eval_fraction=0.1", "training.max_steps=1", "training.evaluate_at_end=true"
    )
    paths = new_run(tmp_path / "runs", cfg, "auto-eval")
    assert worker.run(paths.root) == 0
    status = read_status(paths)
    assert status.state == "completed" and status.phase == "completed"
    (folder,) = evaluations(eval_root(paths))
    summary = read_summary(folder)
    assert summary is not None and set(summary["models"]) == {"base", "auto-eval"}
    assert summary["data"]["source"] == "split" and summary["data"]["rows"] == 4


def test_an_evaluation_whose_worker_never_reported_does_not_block_the_next(tmp_path, monkeypatch):
    from lora_studio import evaluation

    root = tmp_path / "eval"
    evaluation.update_eval_status(root, state="running", eval_id="x", started=time.time())
    assert evaluation.poll_evaluation(root).state == "running"  # still starting
    evaluation.update_eval_status(root, started=time.time() - evaluation.START_S - 1)
    status = evaluation.poll_evaluation(root)
    assert status.state == "failed" and "stopped before it could report" in status.error


def test_coming_back_to_the_tab_keeps_the_rows_and_adapters_chosen_on_the_same_run(trained, tmp_path):
    import shutil

    from lora_studio import settings
    from lora_studio.ui import evaluate_handlers

    shutil.copytree(trained.root, settings.runs_dir() / trained.run_id)
    first = evaluate_handlers.on_refresh(None)  # the first visit picks the run and its held-out rows
    assert first["source"] == "split" and first["adapters"]["value"] == [f"run:{trained.run_id}"]
    again = evaluate_handlers.on_refresh(trained.run_id)  # back on the tab after choosing "a file"
    assert "source" not in again and "value" not in again["adapters"]
    assert again["run"]["value"] == trained.run_id and "10 held-out row(s)" in again["run_info"]
    assert evaluate_handlers.on_refresh("a-deleted-run")["source"] == "split"  # another run: drawn afresh

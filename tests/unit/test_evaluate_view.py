"""The Evaluate tab's plain values and the results it reads: scoring assembled into summary and rows,
filters, highlighting, escaping, the mapping box, and the Runs tab's score columns."""

from __future__ import annotations

import math

import pytest

from lora_studio.config import RunConfig
from lora_studio.errors import ConfigError
from lora_studio.eval_report import build_results, latest_scores, metric_table, rows_csv, write_results
from lora_studio.evaluation import EvalStatus, eval_root
from lora_studio.runs import RunPaths, create_run
from lora_studio.ui import evaluate_view as view
from lora_studio.ui.runs_view import load_summaries, runs_table


def _spec(references: list[str]) -> dict:
    return {
        "id": "20261202-120000",
        "created": 0.0,
        "base": {"name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct"},
        "data": {
            "source": "file",
            "path": "/x/rows.jsonl",
            "data_format": "messages",
            "skipped": [{"row": 9, "reason": "r"}],
        },
        "rows": [
            {"row": i + 1, "messages": [{"role": "user", "content": f"q{i}"}], "reference": ref, "raw_prompt": ""}
            for i, ref in enumerate(references)
        ],
        "generation": {"temperature": 0.0, "max_new_tokens": 256},
        "batch_size": 8,
    }


def _outputs(answers: list[str], seconds: float = 2.0) -> dict:
    return {
        "answers": answers,
        "answer_tokens": [len(a.split()) for a in answers],
        "losses": [(2.0, 2)] * len(answers),
        "seconds": seconds,
    }


@pytest.fixture
def results():
    spec = _spec(["Paris", "Rome", "Berlin"])
    outputs = {"base": _outputs(["Paris", "Madrid", "berlin"]), "my-run": _outputs(["Paris", "Rome", "Bonn"])}
    return build_results(spec, outputs, max_new_tokens=20)


def test_summary_holds_each_models_scores_and_the_row_verdicts(results):
    summary, rows = results
    base, run = summary["models"]["base"], summary["models"]["my-run"]
    assert base["exact_match"] == pytest.approx(1 / 3) and base["exact_match_loose"] == pytest.approx(2 / 3)  # berlin
    assert run["exact_match"] == pytest.approx(2 / 3)
    assert base["loss"] == pytest.approx(1.0) and base["perplexity"] == pytest.approx(math.e)
    assert base["seconds_per_row"] == pytest.approx(2 / 3)
    assert "json_valid" not in summary["metrics"]  # the references are not JSON
    assert summary["base"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert summary["generation"]["max_new_tokens"] == 20
    assert [r["verdicts"]["my-run"] for r in rows] == ["same", "better", "worse"]
    assert summary["verdicts"]["my-run"] == {"better": 1, "worse": 1, "same": 1}


def test_written_results_are_read_back_and_the_runs_tab_shows_the_latest(tmp_path, results):
    summary, rows = results
    run = RunPaths(tmp_path / "my-run")
    create_run(run, RunConfig())
    hidden = eval_root(run) / ".20261202-120000"
    hidden.mkdir(parents=True)
    final = write_results(hidden, summary, rows)
    assert final.name == "20261202-120000" and not hidden.exists()
    scores = latest_scores(tmp_path)
    assert scores["my-run"]["exact_match"] == pytest.approx(2 / 3)
    table = runs_table(load_summaries(tmp_path), scores)
    assert table.loc[0, "exact match"] == "0.667" and table.loc[0, "ROUGE-L"] != "—"
    assert runs_table(load_summaries(tmp_path)).loc[0, "chrF"] == "—"  # no evaluation: a dash


def test_filters_pick_changed_better_and_worse_rows(results):
    _, rows = results
    assert len(view.filter_rows(rows, "all", "my-run")) == 3
    assert [r["row"] for r in view.filter_rows(rows, "changed", "my-run")] == [2, 3]
    assert [r["row"] for r in view.filter_rows(rows, "better", "my-run")] == [2]
    assert [r["row"] for r in view.filter_rows(rows, "worse", "my-run")] == [3]


def test_the_row_table_marks_differences_and_escapes_answers(results):
    summary, rows = results
    rows[0]["answers"]["my-run"] = "<script>alert(1)</script> Paris"
    html = view.rows_html(rows, list(summary["models"]), "my-run", len(rows))
    assert "<script>" not in html and "alert(1)" in html
    assert view.highlight("<b>x</b> Paris", "Paris") == "<mark>&lt;b&gt;x&lt;/b&gt; </mark>Paris"
    assert html.count('class="better"') == 1 and html.count('class="worse"') == 1
    assert view.highlight("the cat sat", "the dog sat") == "the <mark>cat</mark> sat"
    assert "No row matches" in view.rows_html([], ["base"], None, 0)


def test_score_table_and_summary_read_in_words(results):
    summary, _ = results
    headers, table = view.score_table(summary)
    assert headers == ["metric", "base", "my-run"]
    assert table[0][0] == "Exact match" and table[0][1] == "0.333"
    text = view.summary_md(summary, "/runs/x/eval/1")
    assert "better on **1** row(s), worse on **1**" in text
    assert "Skipping 1 row(s) without a reference answer: 9." in text
    assert metric_table(summary)[0] == ["metric", "base", "my-run"]
    csv_text = rows_csv(results[1])
    assert csv_text.splitlines()[0].startswith("row,prompt,reference,base: answer,my-run: answer")


def test_mapping_box_reads_pairs_and_refuses_nonsense():
    assert view.parse_mapping(" question=prompt, answer = completion ") == {
        "prompt": "question",
        "completion": "answer",
    }
    assert view.parse_mapping("") == {}
    with pytest.raises(ConfigError, match="cannot read the column mapping 'question'"):
        view.parse_mapping("question")
    with pytest.raises(ConfigError, match="ROLE one of"):
        view.parse_mapping("question=answer")


def test_progress_says_answers_done_and_time_left():
    running = EvalStatus(
        state="running", phase="answering with base", rows_done=5, rows_total=20, eta_s=75, started=100
    )
    html = view.progress_html(running, now=130)
    assert "5 of 20 answers" in html and "about 1:15 left" in html and "elapsed 0:30" in html
    assert "width:25.0%" in html
    assert view.progress_html(EvalStatus()) == ""
    failed = EvalStatus(state="failed", error="Out of memory", hint="Lower the batch size")
    assert "Out of memory" in view.status_md(failed) and "Lower the batch size" in view.status_md(failed)


def test_the_evaluate_button_refuses_bad_input_in_words(tmp_path):
    from lora_studio.ui import evaluate_tab, playground_view
    from tests.conftest import write_jsonl

    defaults = {w.name: w.value for w in playground_view.setting_widgets()}

    def press(source="file", upload=None, limit=0, batch=16, keys=None, **generation) -> str:
        values = [{**defaults, **generation}[name] for name in evaluate_tab.GENERATION]
        return evaluate_tab.on_evaluate(None, source, upload, "", limit, True, keys, batch, *values)["message"]

    rows = str(write_jsonl(tmp_path / "rows.jsonl", [{"prompt": "2+2?", "completion": "4"}]))
    assert "Pick a run" in press(source="split")
    assert "Upload a file" in press()
    assert "Rows at most cannot be -5" in press(upload=rows, limit=-5)
    assert "Batch size 0 is outside 1-256" in press(upload=rows, batch=0)
    assert "Batch size 999 is outside 1-256" in press(upload=rows, batch=999)
    assert "Max new tokens" in press(upload=rows, max_new_tokens=99999)
    assert "There is no adapter" in press(upload=rows, keys=["run:gone"])
    assert not (tmp_path / "studio-home" / "evaluations").exists() or not any(
        (tmp_path / "studio-home" / "evaluations").iterdir()
    )  # nothing was started or left behind

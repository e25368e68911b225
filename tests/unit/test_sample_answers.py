from __future__ import annotations

from pathlib import Path

import pytest

from lora_studio.config import RunConfig, apply_overrides
from lora_studio.dataset_files import ROW_KEY
from lora_studio.dataset_rows import LoadedData
from lora_studio.runs import RunPaths
from lora_studio.sample_answers import SampleRow, append_sample, default_prompts, read_samples, sampled_steps


def chat(user: str, system: str | None = None) -> dict:
    turns = [{"role": "system", "content": system}] if system else []
    return {"messages": [*turns, {"role": "user", "content": user}, {"role": "assistant", "content": "ok"}]}


def loaded(fmt: str, rows: list[dict]) -> LoadedData:
    return LoadedData(Path("x.jsonl"), fmt, "test", [{**r, ROW_KEY: i + 1} for i, r in enumerate(rows)])


# ---- the samples file ------------------------------------------------------------------------
def test_rows_round_trip_in_order_with_unicode(tmp_path):
    path = RunPaths(tmp_path).samples
    assert path == tmp_path / "samples.jsonl"
    rows = [SampleRow(0, "Hi?", "Hello 🌱\nsecond line", 1.5, 0.25), SampleRow(3, "Hi?", "", 2.5, 0.5)]
    for row in rows:
        append_sample(path, row)
    assert read_samples(path) == rows
    assert sampled_steps(path) == {0, 3}


def test_missing_file_reads_as_no_rows(tmp_path):
    assert read_samples(tmp_path / "samples.jsonl") == []
    assert sampled_steps(tmp_path / "samples.jsonl") == set()


def test_half_written_last_line_waits_and_torn_lines_are_skipped(tmp_path):
    path = tmp_path / "samples.jsonl"
    first = SampleRow(0, "a", "b", 1.0, 0.1)
    append_sample(path, first)
    later = SampleRow(3, "a", "c", 2.0, 0.2).to_json()
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"step": 1, "prom\n')  # torn by a crash: never completed
        fh.write(later[:10])  # the writer is mid-append
    assert read_samples(path) == [first]
    with path.open("a", encoding="utf-8") as fh:
        fh.write(later[10:] + "\n")
    assert read_samples(path) == [first, SampleRow(3, "a", "c", 2.0, 0.2)]


def test_unknown_keys_from_a_newer_writer_are_ignored(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"step": 2, "prompt": "p", "output": "o", "time": 1.0, "seconds": 0.5, "extra": 1}\n')
    assert read_samples(path) == [SampleRow(2, "p", "o", 1.0, 0.5)]


# ---- prompts taken from the data -------------------------------------------------------------
def test_chat_prompts_are_first_user_turns_of_the_first_rows():
    data = loaded("messages", [chat("one?", system="Be brief."), chat("one?"), chat("two?"), chat("three?")])
    assert default_prompts(data) == ["one?", "two?"]  # system turns skipped, duplicates skipped
    assert default_prompts(data, n=5) == ["one?", "two?", "three?"]


def test_held_out_rows_come_first_with_the_training_split():
    from lora_studio.dataset_rows import split_indices

    data = loaded("messages", [chat(f"question {i}?") for i in range(10)])
    _, eval_idx = split_indices(10, 0.2, seed=7)
    held_out = [f"question {i}?" for i in eval_idx]
    assert default_prompts(data, 2, eval_fraction=0.2, seed=7) == held_out
    assert held_out != ["question 0?", "question 1?"]  # the split really reorders, so the test means something
    # One held-out row: the second prompt is the first training row.
    _, one = split_indices(10, 0.1, seed=7)
    first_train = next(i for i in range(10) if i not in one)
    assert default_prompts(data, 2, eval_fraction=0.1, seed=7) == [f"question {one[0]}?", f"question {first_train}?"]


def test_prompt_completion_and_text_rows():
    data = loaded(
        "prompt_completion",
        [{"prompt": "Capital of France?", "completion": "Paris"}, {"prompt": "2+2?", "completion": "4"}],
    )
    assert default_prompts(data, 1) == ["Capital of France?"]
    words = " ".join(f"w{i}" for i in range(30))
    data = loaded("text", [{"text": words}, {"text": "Short  line\nhere"}])
    assert default_prompts(data) == [" ".join(f"w{i}" for i in range(12)), "Short line here"]


def test_rows_without_a_user_turn_give_no_prompt():
    rows = [{"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}]
    assert default_prompts(loaded("messages", rows)) == []


# ---- config ----------------------------------------------------------------------------------
def test_sample_settings_defaults_and_old_configs_still_load():
    t = RunConfig().training
    assert (t.sample_prompts, t.sample_max_new_tokens, t.sample_every_save) == ([], 48, True)
    assert RunConfig().training.sample_prompts is not RunConfig().training.sample_prompts  # no shared default
    warnings: list[str] = []
    old = RunConfig.from_yaml("training:\n  max_steps: 5\n  save_steps: 2\n", warnings)
    assert old.training.sample_prompts == [] and old.training.sample_every_save and warnings == []
    assert old.validate() == []


def test_sample_prompts_round_trip_through_overrides_and_yaml():
    cfg = apply_overrides(
        RunConfig(),
        [
            "training.sample_prompts=['What is 2 plus 2?', 'Say hi: now']",
            "training.sample_max_new_tokens=16",
            "training.sample_every_save=false",
        ],
    )
    assert cfg.training.sample_prompts == ["What is 2 plus 2?", "Say hi: now"]
    assert cfg.validate() == []
    again = RunConfig.from_yaml(cfg.to_yaml())
    assert again == cfg


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("training.sample_prompts=just one text", "list"),
        ("training.sample_prompts=[What is 2 plus 2?]", "quote each item"),  # YAML cannot read an unquoted '?,'
        ("training.sample_prompts=[ok, '']", "empty"),
        ("training.sample_prompts=[ok, 3]", "non-text"),
        ("training.sample_max_new_tokens=0", "at least 1"),
        ("training.sample_max_new_tokens=513", "at most 512"),
        ("training.sample_every_save=sometimes", "true or false"),
    ],
)
def test_bad_sample_settings_are_reported(override, words):
    issues = {i.field: i.message for i in apply_overrides(RunConfig(), [override]).validate()}
    field = override.partition("=")[0]
    assert list(issues) == [field] and words in issues[field]

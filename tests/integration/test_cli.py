"""The command line as a user meets it: bad input ends in one clear line and a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lora_studio.runs import RunPaths, read_status
from tests.conftest import ROOT, SAMPLES, write_jsonl


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lora_studio", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def single_error_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--data", "/no/such/file.jsonl"], "does not exist"),
        (["--data", "{chat}", "--model", "/no/such/model"], "SmolLM2-135M-Instruct (embedded)"),
        (["--data", "{chat}", "--set", "lora.r=0", "--set", "training.learning_rate=0"], "lora.r: must be at least 1"),
        (["--data", "{chat}", "--set", "lora.rank=4"], "no setting 'lora.rank'"),
        (["--data", "{chat}", "--preset", "nope"], "Pick one of: "),
        ([], "Pass --data"),
    ],
)
def test_refused_before_training_with_one_line(chat_file, studio_home, args, expected):
    args = [a.replace("{chat}", str(chat_file)) for a in args]
    proc = cli("train", *args)
    assert proc.returncode == 2
    line = single_error_line(proc)
    assert expected in line
    if "learning_rate" in " ".join(args):
        assert "training.learning_rate" in line  # every problem at once
    assert not (studio_home / "runs").exists() or not any((studio_home / "runs").iterdir())


def test_empty_and_broken_data_files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    proc = cli("train", "--data", str(empty))
    assert proc.returncode == 2 and "is empty" in single_error_line(proc)

    broken = write_jsonl(tmp_path / "broken.jsonl", [{"messages": [{"role": "user", "content": "hi"}]}])
    with broken.open("a") as fh:
        fh.write('{"messages": oops}\n')
    line = single_error_line(proc := cli("train", "--data", str(broken)))
    assert proc.returncode == 2
    assert "line 1" in line and "no assistant turn" in line and "line 2: malformed JSON" in line


def test_hub_model_offline_fails_fast_and_the_run_says_why(tmp_path, chat_file):
    run_dir = tmp_path / "run"
    proc = cli("train", "--data", str(chat_file), "--model", "someone/some-model", "--run-dir", str(run_dir))
    assert proc.returncode == 1
    line = single_error_line(proc)
    assert "offline" in line and "SmolLM2-135M-Instruct (embedded)" in line
    status = read_status(RunPaths(run_dir))
    assert status.state == "failed" and status.error_kind == "model"


def test_train_prints_progress_lines_and_writes_a_run(tmp_path, tiny_model_dir, chat_file):
    run_dir = tmp_path / "run"
    proc = cli(
        "train",
        "--data",
        str(chat_file),
        "--model",
        str(tiny_model_dir),
        "--run-dir",
        str(run_dir),
        "--set",
        "training.max_steps=4",
        "--set",
        "training.logging_steps=2",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    progress = [line for line in proc.stdout.splitlines() if line.startswith("step ")]
    assert [p.split("|")[0].strip() for p in progress] == ["step 1/4", "step 2/4", "step 4/4"]
    assert all("loss" in p and "lr" in p and "tok/s" in p and "ETA" in p for p in progress)
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "completed" and status["step"] == 4
    assert Path(run_dir / "adapter" / "adapter_model.safetensors").is_file()


def test_presets_command_lists_the_shipped_presets():
    proc = cli("presets")
    assert proc.returncode == 0
    assert {"quick-start", "chat-assistant", "olora", "low-memory-8bit"} <= {
        line.split()[0] for line in proc.stdout.splitlines() if line.strip()
    }


def test_inspect_reports_format_tokens_and_issues_with_exit_codes(tmp_path):
    ok = cli("inspect", str(SAMPLES / "chat-assistant.jsonl"), "--max-length", "64")
    assert ok.returncode == 0, ok.stderr
    assert "format:   messages (column 'messages' holds chat turns)" in ok.stdout
    assert "rows:     200 usable" in ok.stdout and "Tokens per row" in ok.stdout

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "fine"}\n{"text": \n', encoding="utf-8")
    bad = cli("inspect", str(broken), "--no-tokens")
    assert bad.returncode == 1 and "error: line 2: malformed JSON" in bad.stdout
    assert "block training" in single_error_line(bad)

    unmapped = cli("inspect", str(SAMPLES / "support-faq.csv"), "--no-tokens")
    assert unmapped.returncode == 2 and "--map COLUMN=prompt" in single_error_line(unmapped)
    mapped = cli(
        "inspect",
        str(SAMPLES / "support-faq.csv"),
        "--no-tokens",
        "--map",
        "customer_question=prompt",
        "--map",
        "agent_answer=completion",
    )
    assert mapped.returncode == 0 and "rows:     60 usable" in mapped.stdout


# ---- adapters import / list: the Playground's upload checks, headless (issue 11) ---------------------------
def test_adapters_import_and_list(tmp_path, studio_home):
    import zipfile

    from tests.unit.test_adapter_checks import _with_config
    from tests.unit.test_adapters import adapter_folder, folder_entries, zip_of

    good = zip_of(tmp_path / "good.zip", folder_entries(adapter_folder(tmp_path / "good", base="org/base-model")))
    proc = cli("adapters", "import", str(good))
    assert proc.returncode == 0, proc.stderr
    assert "imported: good (uploaded) (trained on org/base-model) as upload:" in proc.stdout

    many = _with_config(adapter_folder(tmp_path / "many"), target_modules=[f"m{i}" for i in range(5000)])
    refused = cli("adapters", "import", str(zip_of(tmp_path / "many.zip", folder_entries(many))))
    assert refused.returncode == 2 and "many cannot be used" in single_error_line(refused)
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as archive:
        archive.writestr("../evil.json", "{}")
    assert "entry '../evil.json'" in single_error_line(cli("adapters", "import", str(slip)))
    missing = cli("adapters", "import", str(tmp_path / "nope.zip"))
    assert missing.returncode == 2 and "nope.zip is not a file" in single_error_line(missing)

    # One planted by hand, unusable: listed with its reason, and the listing still works.
    planted = _with_config(
        adapter_folder(studio_home / "uploads" / "adapters" / "planted"), base_model_name_or_path="/" + "x" * 300, r=0
    )
    assert planted.is_dir()
    listing = cli("adapters", "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert any("good (uploaded)" in line and "base org/base-model" in line for line in lines), lines
    assert any("planted" in line and "cannot be used" in line and "'r'" in line for line in lines), lines

"""`chat`: one answer from the command line, with the Playground's engine and its generation settings."""

from __future__ import annotations

import shutil

from lora_studio import settings
from lora_studio.__main__ import main
from lora_studio.engine.inference import GenerationSettings, Playground
from tests.integration.test_inference import HELLO, info_of, pg_model_dir, trained_runs  # noqa: F401 - fixtures


def test_chat_answers_with_a_runs_adapter_as_the_playground_does(capsys, trained_runs, pg_model_dir):  # noqa: F811
    paths = trained_runs["chat"]
    shutil.copytree(paths.root, settings.runs_dir() / paths.run_id, ignore=shutil.ignore_patterns("checkpoints"))
    settings_ = GenerationSettings(max_new_tokens=8, temperature=0)
    playground = Playground()
    playground.load_base(str(pg_model_dir))
    key = playground.load_adapter(info_of(paths, pg_model_dir)).key
    expected = playground.generate(key, HELLO, settings_)
    playground.unload_base()

    capsys.readouterr()
    prompt = HELLO[0]["content"]
    args = ["chat", prompt, "--adapter", paths.run_id, "--set", "max_new_tokens=8", "--set", "temperature=0"]
    assert main(args) == 0
    assert capsys.readouterr().out.endswith(expected + "\n")


def test_chat_refuses_a_bad_setting_before_loading_anything(capsys):
    assert main(["chat", "Hi", "--model", "/no/such/model", "--set", "top_p=0"]) == 2
    assert "error: Invalid generation settings: top_p: must be at least 0.05 and at most 1, got 0" in (
        capsys.readouterr().err
    )
